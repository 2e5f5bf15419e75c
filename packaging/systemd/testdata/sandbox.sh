#!/usr/bin/env bash
# Run by the sandbox tests inside `unshare --mount --pid --mount-proc --net --fork`: a throwaway view
# of this machine (overlays on /etc, /usr and /var; loopback only) where mailtls is laid
# out as the package lays it out, then started by unitexec under the units' own sandbox
# settings and asked through Postfix's postmap, as the postfix user. Nothing outside the
# namespaces changes. Prints "ok:" per check; the first failed check exits 1.
#   sandbox.sh WORK MAILTLS UNITEXEC CONFIG MAP EXPECT [unitexec start flags...]
# EXPECT: the reply text postmap must print, "fail:TEXT" for a daemon that must refuse
# to start with TEXT in its log (and exit, not be killed by a signal), or "signal:TEXT"
# for one that must be killed by that signal.
set -euo pipefail
work=$1 bin=$2 unitexec=$3 config=$4 map=$5 expect=$6
shift 6

fail() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && sed 's/^/  daemon: /' "$work/daemon.log" >&2; exit 1; }
ok() { echo "ok: $*"; }

mount --make-rprivate /
ip link set lo up
for d in etc usr var; do
  mkdir -p "$work/$d-upper" "$work/$d-work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d-upper,workdir=$work/$d-work" "/$d"
done
# What the package installs: the user, the binary, the configuration.
if ! getent passwd mailtls >/dev/null; then
  echo 'mailtls:x:64950:64950:mailtls:/var/lib/mailtls:/usr/sbin/nologin' >>/etc/passwd
  echo 'mailtls:x:64950:' >>/etc/group
fi
install -m 0755 "$bin" /usr/bin/mailtls
# The sandbox runner itself must live outside /tmp (PrivateTmp hides it).
install -D -m 0755 "$unitexec" /usr/libexec/mailtls-test/unitexec
unitexec=/usr/libexec/mailtls-test/unitexec
install -D -m 0644 "$config" /etc/mailtls/mailtls.yaml
# postmap reads main.cf; a Postfix installed with "No configuration" has none yet.
[ -f /etc/postfix/main.cf ] || : >/etc/postfix/main.cf
# Postfix's spool as its Debian package makes it: private/ is postfix:root 0700.
install -d -o postfix -g root -m 0700 /var/spool/postfix/private
rm -f /var/spool/postfix/private/mailtls

"$unitexec" start "$@" >"$work/daemon.log" 2>&1 &
starter=$!

if [[ $expect == signal:* ]]; then
  wait "$starter" && fail "the daemon started; it should have been killed"
  grep -q "unitexec: signal: ${expect#signal:}" "$work/daemon.log" || fail "the daemon was not killed by '${expect#signal:}'"
  ok "killed by ${expect#signal:}"
  exit 0
fi
if [[ $expect == fail:* ]]; then
  wait "$starter" && fail "the daemon started; it should have refused"
  grep -q 'unitexec: exit status 1' "$work/daemon.log" || fail "the daemon did not exit with status 1 (killed by a signal?)"
  grep -q -- "${expect#fail:}" "$work/daemon.log" || fail "the log does not say '${expect#fail:}'"
  ok "refused to start with a log line ('${expect#fail:}'), exit status 1, no signal"
  exit 0
fi

reply=""
for _ in $(seq 100); do
  kill -0 "$starter" 2>/dev/null || fail "the daemon exited"
  reply=$(setpriv --reuid=postfix --regid=postfix --init-groups postmap -q example.com "$map" 2>"$work/postmap.err" || true)
  [ -n "$reply" ] && break
  sleep 0.1
done
[ "$reply" = "$expect" ] || { cat "$work/postmap.err" >&2; fail "postmap -q example.com $map as postfix: '$reply', want '$expect'"; }
ok "postmap -q example.com $map, as user postfix: $reply"

pid=""
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = mailtls ] && pid=${p#/proc/}
done
[ -n "$pid" ] || fail "no mailtls process"
st=/proc/$pid/status
[ "$(awk '/^Uid:/{print $2}' "$st")" = "$(id -u mailtls)" ] || fail "not running as mailtls: $(grep ^Uid: "$st")"
grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "no_new_privs not set"
grep -q '^Seccomp:[[:space:]]*2$' "$st" || fail "no seccomp filter"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
  grep -q "^$c:[[:space:]]*0000000000000000$" "$st" || fail "$c not empty: $(grep "^$c:" "$st")"
done
ok "daemon pid $pid: user mailtls, no_new_privs, seccomp filter, no capabilities"
[[ $(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo") == ro* ]] || fail "/ is writable for the daemon"
[[ $(awk '$5 == "/var/lib/mailtls" {print $6}' "/proc/$pid/mountinfo") == rw* ]] || fail "state directory not writable"
ok "daemon sees / read-only and /var/lib/mailtls writable (ProtectSystem=strict)"
if [ -S /var/spool/postfix/private/mailtls ]; then
  [ "$(stat -c '%U:%G %a' /var/spool/postfix/private/mailtls)" = "postfix:postfix 660" ] || fail "spool socket: $(stat -c '%U:%G %a' /var/spool/postfix/private/mailtls)"
  ok "spool socket postfix:postfix 0660 in postfix:root 0700 private/"
fi
tlsrpt=/var/spool/postfix/run/tlsrpt/tlsrpt.sock
if [ -S "$tlsrpt" ]; then
  [ "$(stat -c '%U:%G %a' "$tlsrpt")" = "postfix:postfix 660" ] || fail "tlsrpt socket: $(stat -c '%U:%G %a' "$tlsrpt")"
  grep -q 'tlsrpt collector socket passed by systemd' "$work/daemon.log" || fail "the daemon did not take the tlsrpt socket systemd passed"
  # As Postfix's smtp(8) would: a datagram from the postfix user reaches the collector
  # (a syslog line, not a TLSRPT result, so the collector logs it as bad).
  setpriv --reuid=postfix --regid=postfix --init-groups logger --udp --socket "$tlsrpt" --socket-errors=on "not a tlsrpt datagram" ||
    fail "postfix cannot send to $tlsrpt"
  for _ in $(seq 50); do grep -q 'tlsrpt collector: bad datagram' "$work/daemon.log" && break; sleep 0.1; done
  grep -q 'tlsrpt collector: bad datagram' "$work/daemon.log" || fail "the collector did not read the postfix user's datagram"
  ok "tlsrpt socket postfix:postfix 0660 from systemd; the postfix user's datagram reached the collector"
fi
setpriv --reuid=mailtls --regid=mailtls --init-groups env STATE_DIRECTORY=/var/lib/mailtls mailtls config check >/dev/null 2>"$work/check.err" ||
  fail "config check as mailtls: $(cat "$work/check.err")"
ok "mailtls config check passes the configuration the daemon runs"
if audit=$(awk '$1 == "file:" && $2 ~ /^\// {print $2}' /etc/mailtls/mailtls.yaml) && [ -n "$audit" ]; then
  # Lines are written in batches, 100 ms after a batch's first line (daemon/auditwriter.go):
  # wait for it, as long as a loaded machine may delay the timer, rather than expect it now.
  for _ in $(seq 100); do grep -q '"key":"example.com"' "$audit" && break; sleep 0.1; done
  grep -q '"key":"example.com"' "$audit" || fail "the audit log $audit has no line for the query after 10 s"
  ok "audit log $audit written (LogsDirectory=)"
fi
kill -TERM "$starter"
wait "$starter" || fail "the daemon did not stop cleanly on SIGTERM"
ok "stopped cleanly"
