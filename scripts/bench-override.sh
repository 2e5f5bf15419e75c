#!/usr/bin/env bash
# The override-key figure of BENCHMARKS.md: mailtls bench load against a daemon answering
# one operator override (no cache state, no DNS, no fetch), with the null server measured
# in the same run at every point:
#
#   bash scripts/bench-override.sh            # = make bench-override
#
# The daemon runs from a temporary state directory on a free loopback port; its resolver
# is a closed loopback port (an override costs no lookup; the start-up DNSSEC check fails
# and switches the DANE stage off, which an override never reaches). Knobs (environment):
# MAILTLS_BENCH_CONNS ("1,8,32"), MAILTLS_BENCH_DURATION (10s), MAILTLS_BENCH_WARMUP (2s),
# MAILTLS_BENCH_PIPELINE ("1"; e.g. "1,16,64"), MAILTLS_BENCH_ROUNDS (1).
#
# MAILTLS_BENCH_BASE=<commit> compares with that commit's daemon: both daemons run side by
# side (targets "base" and "mailtls") and every point of every round measures the null
# server, then both daemons, in an order that alternates round by round, so each ratio has
# its own null figure from the same moment.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

work=$(mktemp -d /tmp/mailtls-bench-override.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/mailtls" ./cmd/mailtls
if [ -n "${MAILTLS_BENCH_BASE:-}" ]; then
  mkdir "$work/base-src"
  git archive "$MAILTLS_BENCH_BASE" | tar -x -C "$work/base-src"
  (cd "$work/base-src" && go build -o "$work/mailtls-base" ./cmd/mailtls)
  echo "base: $(git rev-parse --short "$MAILTLS_BENCH_BASE"); mailtls: the working tree at $(git rev-parse --short HEAD)"
fi

# start NAME BINARY: runs BINARY as a daemon in $work/run-NAME, checks its answer and sets
# target to its bench load target.
start() {
  local name=$1 bin=$2 dir="$work/run-$1" port reply
  mkdir "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/mailtls.yaml" <<YAML
state_dir: $dir/state
log: {level: warn}
resolver: {servers: ["127.0.0.1:1"], timeout: 200ms}
listen:
  socketmap: [{tcp: "127.0.0.1:$port"}]
overrides:
  - {domain: over.example, level: secure, match: [mx.over.example]}
YAML
  "$bin" serve -config "$dir/mailtls.yaml" >"$dir/daemon.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if "$work/mailtls" bench load -null=false -conns 1 -duration 100ms -warmup 0s \
        -target "probe=inet:127.0.0.1:$port:postfix" -key over.example >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
  done
  reply=$(printf '%s' "postfix over.example" | python3 -c '
import socket,sys
req=sys.stdin.read().encode()
s=socket.create_connection(("127.0.0.1",'"$port"'))
s.sendall(str(len(req)).encode()+b":"+req+b",")
print(s.recv(4096).decode())')
  echo "$name answers over.example: $reply"
  case "$reply" in *"OK secure match=mx.over.example"*) ;; *) echo "unexpected answer; daemon log:" >&2; cat "$dir/daemon.log" >&2; exit 1 ;; esac
  target="$name=inet:127.0.0.1:$port:postfix"
}

load() {
  "$work/mailtls" bench load "$@" -key over.example \
    -conns "${MAILTLS_BENCH_CONNS:-1,8,32}" -pipeline "${MAILTLS_BENCH_PIPELINE:-1}" \
    -duration "${MAILTLS_BENCH_DURATION:-10s}" -warmup "${MAILTLS_BENCH_WARMUP:-2s}"
}

start mailtls "$work/mailtls"
cur=$target
if [ -z "${MAILTLS_BENCH_BASE:-}" ]; then
  load -target "$cur" -rounds "${MAILTLS_BENCH_ROUNDS:-1}"
  exit 0
fi
start base "$work/mailtls-base"
base=$target
for r in $(seq "${MAILTLS_BENCH_ROUNDS:-1}"); do
  echo "round $r ($(cut -d' ' -f1-3 /proc/loadavg))"
  if [ $((r % 2)) = 1 ]; then load -target "$base" -target "$cur"; else load -target "$cur" -target "$base"; fi
done
