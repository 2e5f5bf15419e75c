#!/usr/bin/env bash
# Run by TestPackageLifecycle inside `unshare --mount --pid --net --fork` (no network): installs, upgrades,
# removes and purges mailtls.deb with dpkg in an overlay of a throwaway Debian root, so
# neither the root's base copy nor this machine is changed; everything vanishes with the
# mount namespace. Prints one "ok:" line per check; the first failed check exits 1.
#   lifecycle.sh BASE_ROOT WORK_DIR OLD.deb OLD_VERSION NEW.deb NEW_VERSION
set -euo pipefail
base=$1 work=$2 old=$3 oldv=$4 new=$5 newv=$6

mount --make-rprivate /
mkdir -p "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
r=$work/root
mount -t proc proc "$r/proc" # this PID namespace's processes only
cp "$old" "$r/tmp/old.deb"
cp "$new" "$r/tmp/new.deb"

inr() { chroot "$r" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# Processes other than this script's own shells and tools: a daemon that a maintainer
# script started would be one.
others() {
  for p in "$r"/proc/[0-9]*; do
    c=$(cat "$p/comm" 2>/dev/null) || continue
    case $c in bash|cat|chroot|sleep) ;; *) echo "${p##*/}:$c" ;; esac
  done
}

[ ! -d "$r/run/systemd/system" ] || fail "the test root claims a running systemd"

# --- install
inr dpkg -i /tmp/old.deb >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i $oldv"; }
ok "dpkg -i installs $oldv"
[ "$(inr mailtls version | cut -d' ' -f2)" = "$oldv" ] || fail "mailtls version: $(inr mailtls version)"
ok "/usr/bin/mailtls runs: $(inr mailtls version)"
[ -z "$(others)" ] || fail "processes started by the install: $(others)"
ok "postinst started nothing (no systemd running)"
[[ $(inr getent passwd mailtls) == *:/var/lib/mailtls:/usr/sbin/nologin ]] || fail "no system user mailtls"
uid=$(inr id -u mailtls)
ok "system user mailtls (uid $uid)"
[ "$(inr stat -c '%U:%G %a' /var/lib/mailtls)" = "mailtls:mailtls 700" ] || fail "state dir: $(inr stat -c '%U:%G %a' /var/lib/mailtls)"
[ "$(inr stat -c '%U:%G %a' /var/log/mailtls)" = "mailtls:adm 750" ] || fail "log dir: $(inr stat -c '%U:%G %a' /var/log/mailtls)"
ok "state and log directories"
grep -qx /etc/mailtls/mailtls.yaml "$r/var/lib/dpkg/info/mailtls.conffiles" || fail "mailtls.yaml is not a conffile"
ok "/etc/mailtls/mailtls.yaml is a conffile"
inr mailtls config check >/dev/null || fail "config check of the shipped configuration: $(inr mailtls config check 2>&1)"
[[ $(inr mailtls config path) == /etc/mailtls/mailtls.yaml* ]] || fail "the CLI does not find the service's file: $(inr mailtls config path)"
ok "the shipped configuration passes config check and the CLI finds it"
# README's quick start on the package: one override, then the answer.
sed -i 's/^overrides: \[\]/overrides: [{domain: example.com, level: encrypt}]/' "$r/etc/mailtls/mailtls.yaml"
inr mailtls config check >/dev/null || fail "config check after the README's override: $(inr mailtls config check 2>&1)"
answer=$(inr mailtls query example.com -local 2>&1) || fail "query: $answer"
grep -q 'reply:   OK encrypt' <<<"$answer" || fail "query: $answer"
ok "README quick start: the override in the shipped file answers OK encrypt"
[ -L "$r/etc/systemd/system/multi-user.target.wants/mailtls.service" ] || fail "mailtls.service not enabled"
ok "mailtls.service enabled (symlink) without a running systemd"
for p in mailtls mailtls-serve mailtls-query mailtls-cache mailtls-config mailtls-bench mailtls-version; do
  [ -f "$r/usr/share/man/man1/$p.1.gz" ] || fail "no manual page $p(1)"
done
[[ $(inr man -P cat mailtls-serve 2>/dev/null) == *-config* ]] || fail "man mailtls-serve does not render"
ok "manual pages installed and readable with man"

# --- state and a local edit, then the upgrade
# As the service runs it: user mailtls, STATE_DIRECTORY from StateDirectory=.
inr env STATE_DIRECTORY=/var/lib/mailtls setpriv --reuid=mailtls --regid=mailtls --clear-groups mailtls cache list >/dev/null 2>"$work/cache.log" ||
  { cat "$work/cache.log"; fail "mailtls cache list as mailtls"; }
[ -s "$r/var/lib/mailtls/cache.db" ] || fail "no store created in /var/lib/mailtls"
echo kept >"$r/var/lib/mailtls/marker"
sed -i 's/^  level: info /  level: debug/' "$r/etc/mailtls/mailtls.yaml"
grep -q '^  level: debug' "$r/etc/mailtls/mailtls.yaml" || fail "could not edit the conffile"
db=$(sha256sum <"$r/var/lib/mailtls/cache.db")
ok "state written (cache.db by mailtls itself) and the conffile edited"
inr dpkg -i --force-confdef --force-confold /tmp/new.deb >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log"; fail "dpkg -i $newv"; }
[ "$(inr mailtls version | cut -d' ' -f2)" = "$newv" ] || fail "after upgrade: $(inr mailtls version)"
ok "upgraded to $newv"
[ "$(cat "$r/var/lib/mailtls/marker")" = kept ] && [ "$(sha256sum <"$r/var/lib/mailtls/cache.db")" = "$db" ] || fail "state lost in the upgrade"
grep -q '^  level: debug' "$r/etc/mailtls/mailtls.yaml" && grep -q '^overrides: \[{domain: example.com' "$r/etc/mailtls/mailtls.yaml" ||
  fail "conffile edits lost in the upgrade"
[ "$(inr id -u mailtls)" = "$uid" ] || fail "user changed"
[ -z "$(others)" ] || fail "processes started by the upgrade: $(others)"
ok "upgrade kept the state, the conffile edit and the user, and started nothing"

# --- remove, then purge
inr dpkg -r mailtls >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r"; }
[ ! -e "$r/usr/bin/mailtls" ] || fail "binary left after remove"
[ -f "$r/etc/mailtls/mailtls.yaml" ] && [ -f "$r/var/lib/mailtls/marker" ] || fail "remove dropped the configuration or state"
ok "remove: binary gone, configuration and state kept"
inr dpkg -P mailtls >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg -P"; }
for gone in /etc/mailtls /var/lib/mailtls /var/log/mailtls /etc/systemd/system/multi-user.target.wants/mailtls.service \
  /lib/systemd/system/mailtls.service /usr/share/man/man1/mailtls.1.gz; do
  [ ! -e "$r$gone" ] && [ ! -L "$r$gone" ] || fail "$gone left after purge"
done
[[ $(ls "$r/var/lib/systemd/deb-systemd-helper-enabled" 2>/dev/null) != *mailtls* ]] || fail "enablement state left after purge"
inr dpkg -s mailtls >/dev/null 2>&1 && fail "dpkg still knows mailtls"
ok "purge removed configuration, state, logs, units and enablement"
