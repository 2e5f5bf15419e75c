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
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

work=$(mktemp -d /tmp/mailtls-bench-override.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/mailtls" ./cmd/mailtls
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/mailtls.yaml" <<YAML
state_dir: $work/state
log: {level: warn}
resolver: {servers: ["127.0.0.1:1"], timeout: 200ms}
listen:
  socketmap: [{tcp: "127.0.0.1:$port"}]
overrides:
  - {domain: over.example, level: secure, match: [mx.over.example]}
YAML
"$work/mailtls" serve -config "$work/mailtls.yaml" >"$work/daemon.log" 2>&1 &
pid=$!
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
echo "daemon answers over.example: $reply"
case "$reply" in *"OK secure match=mx.over.example"*) ;; *) echo "unexpected answer; daemon log:" >&2; cat "$work/daemon.log" >&2; exit 1 ;; esac

"$work/mailtls" bench load -target "mailtls=inet:127.0.0.1:$port:postfix" -key over.example \
  -conns "${MAILTLS_BENCH_CONNS:-1,8,32}" -pipeline "${MAILTLS_BENCH_PIPELINE:-1}" -rounds "${MAILTLS_BENCH_ROUNDS:-1}" -duration "${MAILTLS_BENCH_DURATION:-10s}" -warmup "${MAILTLS_BENCH_WARMUP:-2s}"
