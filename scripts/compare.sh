#!/usr/bin/env bash
# Side-by-side comparison of mailtls with postfix-mta-sts-resolver (the Debian package's
# mta-sts-daemon) and the null socketmap server, on the same cached workload, in one run:
#
#   bash scripts/compare.sh
#
# Needs root: it installs the package (and Unbound, iproute2) with apt-get, and runs the
# harness (bench/compare, TestCompare) in a network namespace of its own that has only
# loopback, with resolv.conf pointing at 127.0.0.1, where the harness runs Unbound in
# front of its DNS server. Nothing in the namespace can reach any other address. The
# namespace is removed on exit.
#
# Knobs (environment): MAILTLS_COMPARE_DURATION (10s per measured point),
# MAILTLS_COMPARE_WARMUP (2s), MAILTLS_COMPARE_DOMAINS (1000 MTA-STS domains and as many
# without a policy), MAILTLS_COMPARE_CONNS ("1,8,32"), MAILTLS_COMPARE_ROUNDS (1: runs of
# every point, interleaved; the table shows the median), MAILTLS_COMPARE_OUT (also write
# the table to this file), MAILTLS_COMPARE_WORKTREE=1 (build the working tree, not HEAD).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"

if [ "$(id -u)" -ne 0 ]; then
  echo "compare: needs root (package install, network namespace, port 53 and 443)" >&2
  exit 1
fi

need=()
[ -x /usr/bin/mta-sts-daemon ] || need+=(postfix-mta-sts-resolver)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -x /usr/sbin/unbound ] || need+=(unbound) # the peer's local caching resolver
# Installed without starting the packaged daemons (install-test-deps.sh forbids service
# starts during the install and restores the machine's policy); the comparison runs its own
# instances in the namespace, and no service of this machine is stopped or restarted.
if [ ${#need[@]} -gt 0 ]; then
  bash scripts/install-test-deps.sh "${need[@]}"
fi

work=$(mktemp -d /tmp/mailtls-compare.XXXXXX)
ns="mailtls-cmp-$$"
cleanup() {
  set +e # every step runs, whatever failed before
  ip netns pids "$ns" 2>/dev/null | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/etc/netns/$ns" "$work"
}
trap cleanup EXIT INT TERM

# Build outside the namespace (the module cache is there), run inside it. What is built is
# the committed HEAD, exported to a scratch directory, so the figures name one commit;
# MAILTLS_COMPARE_WORKTREE=1 builds the working tree as it is instead.
src=.
if [ "${MAILTLS_COMPARE_WORKTREE:-}" != 1 ] && rev=$(git rev-parse --short HEAD 2>/dev/null); then
  mkdir "$work/src"
  git archive HEAD | tar -x -C "$work/src"
  src="$work/src"
else
  rev="working tree"
fi
(cd "$src" && go build -o "$work/mailtls" ./cmd/mailtls && go test -c -o "$work/compare.test" ./bench/compare)
echo "compare: mailtls at $rev; peer $(dpkg-query -W -f '${Package} ${Version}' postfix-mta-sts-resolver)"

ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"

ip netns exec "$ns" env MAILTLS_COMPARE=1 MAILTLS_COMPARE_BIN="$work/mailtls" \
  MAILTLS_COMPARE_DURATION="${MAILTLS_COMPARE_DURATION:-10s}" \
  MAILTLS_COMPARE_WARMUP="${MAILTLS_COMPARE_WARMUP:-2s}" \
  MAILTLS_COMPARE_DOMAINS="${MAILTLS_COMPARE_DOMAINS:-1000}" \
  MAILTLS_COMPARE_CONNS="${MAILTLS_COMPARE_CONNS:-1,8,32}" \
  MAILTLS_COMPARE_ROUNDS="${MAILTLS_COMPARE_ROUNDS:-1}" \
  MAILTLS_COMPARE_OUT="${MAILTLS_COMPARE_OUT:-}" \
  "$work/compare.test" -test.run '^TestCompare$' -test.count=1 -test.v -test.timeout 60m
