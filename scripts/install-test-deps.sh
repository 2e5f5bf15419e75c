#!/usr/bin/env bash
# Installs the real parts the integration and end-to-end tests use, as Debian packages:
# Postfix (postmap as a socketmap client; sending and receiving MTAs), Unbound (validating
# resolver), Knot DNS (signed authoritative zones), iproute2 (network namespaces), swaks
# (submits the end-to-end messages), systemd (systemd-analyze verify on the units and its
# system call groups for the sandbox test), mmdebstrap, and with it the throwaway Debian
# root the package test installs mailtls.deb into (/var/cache/mailtls-test; the test itself
# never goes to the network), curl (fetches a policy from mailtls's MTA-STS policy host as a
# third-party client), and a Debian root with Exim 4.96 (exim4-daemon-heavy) for the Exim
# integration test (it conflicts with Postfix, so it is not installed on the machine),
# Node.js and npm (Debian's nodejs and npm, only when node or npm is missing) and the
# Haraka plugin's npm packages (npm ci in integrations/haraka, from its package-lock.json,
# whenever node_modules was not made from the current lock file by the current node).
# Idempotent: does nothing when all are present. With arguments, installs exactly those
# packages instead (scripts/compare.sh uses this for its peer), by the same rules.
#
# It never stops, restarts, enables or disables a service: while apt-get runs, a
# policy-rc.d that answers 101 ("action forbidden") keeps the packages' maintainer scripts
# from starting the daemons they ship, and whatever policy-rc.d the machine had before
# (or none) is put back afterwards. The tests run their own instances, under their own
# names, paths and ports.
set -euo pipefail

need=("$@")
[ $# -gt 0 ] || {
  command -v postmap >/dev/null 2>&1 || [ -x /usr/sbin/postmap ] || need+=(postfix)
  command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
  command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || need+=(knot)
  command -v keymgr >/dev/null 2>&1 || [ -x /usr/sbin/keymgr ] || need+=(knot)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
  command -v kdig >/dev/null 2>&1 || need+=(knot-dnsutils)
  command -v swaks >/dev/null 2>&1 || need+=(swaks)
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
}
# The package test's Debian root (TestPackageLifecycle in packaging/deb names the same
# directory and packages); made once, reused by every run.
debroot=/var/cache/mailtls-test/bookworm-minbase-adduser-init-system-helpers-man-db
wantroot=0
[ $# -gt 0 ] || [ -x "$debroot/usr/bin/dpkg" ] || wantroot=1
# The TLSRPT test's Debian 13 root: Postfix 3.10 linked against libtlsrpt
# (tlsrpt/postfix310 names the same directory); made once, copied by each run.
trixieroot=/var/cache/mailtls-test/trixie-postfix-tlsrpt0
wanttrixie=0
[ $# -gt 0 ] || [ -x "$trixieroot/usr/sbin/postfix" ] || wanttrixie=1
# The Exim test's Debian root: Exim 4.96 (exim4-daemon-heavy), which cannot be installed
# next to Postfix on the machine itself (integrations/exim names the same directory).
eximroot=/var/cache/mailtls-test/bookworm-exim4-daemon-heavy
wantexim=0
[ $# -gt 0 ] || [ -x "$eximroot/usr/sbin/exim4" ] || wantexim=1
# The Haraka plugin's packages (integrations/haraka): npm ci from the lock file, redone when
# the lock file or node changed (the stamp records both).
harakadir=$(cd "$(dirname "$0")/../integrations/haraka" && pwd)
harakastamp="$harakadir/node_modules/.mailtls-npm-ci"
harakawant() {
  command -v node >/dev/null 2>&1 || return 0
  echo "$(sha256sum <"$harakadir/package-lock.json" | cut -d' ' -f1) $(node --version)"
}
wantharaka=0
[ $# -gt 0 ] || [ "$(cat "$harakastamp" 2>/dev/null)" = "$(harakawant)" ] || wantharaka=1
npmci() {
  [ $wantharaka -eq 1 ] || return 0
  # --ignore-scripts: no package's install script runs (Haraka's optional native syslog
  # module is not built; the plugin and its tests do not use it).
  (cd "$harakadir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  harakawant >"$harakastamp"
}
[ ${#need[@]} -eq 0 ] && [ $wantroot -eq 0 ] && [ $wanttrixie -eq 0 ] && [ $wantexim -eq 0 ] && { npmci; exit 0; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: need root to install: ${need[*]} (and the package test's Debian root)" >&2
  exit 1
fi

# Forbid service starts for the duration of the install only, and restore the machine's own
# policy (file, mode and contents) or its absence on every exit path.
prc=${MAILTLS_POLICY_RC_D:-/usr/sbin/policy-rc.d} # the variable: for this script's own test
saved=""
if [ -e "$prc" ] || [ -L "$prc" ]; then
  saved=$(mktemp "$(dirname "$prc")/.policy-rc.d.mailtls-saved.XXXXXX")
  cp -a "$prc" "$saved"
fi
restore() {
  if [ -n "$saved" ]; then
    mv -f "$saved" "$prc"
  else
    rm -f "$prc"
  fi
}
trap restore EXIT
printf '#!/bin/sh\n# mailtls install-test-deps: no service starts while test packages install.\nexit 101\n' >"$prc.mailtls-new"
chmod 0755 "$prc.mailtls-new"
mv -f "$prc.mailtls-new" "$prc"

if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks how it is used; the tests configure their own instances.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ $wantroot -eq 1 ]; then
  mkdir -p "$(dirname "$debroot")"
  rm -rf "$debroot.new"
  mmdebstrap --quiet --variant=minbase --include=adduser,init-system-helpers,man-db bookworm "$debroot.new"
  mv "$debroot.new" "$debroot"
fi

if [ $wanttrixie -eq 1 ]; then
  mkdir -p "$(dirname "$trixieroot")"
  rm -rf "$trixieroot.new"
  mmdebstrap --quiet --variant=minbase --include=postfix,libtlsrpt0,ca-certificates trixie "$trixieroot.new"
  mv "$trixieroot.new" "$trixieroot"
fi

if [ $wantexim -eq 1 ]; then
  mkdir -p "$(dirname "$eximroot")"
  rm -rf "$eximroot.new"
  # mmdebstrap keeps the package's scripts from starting an Exim inside the root.
  mmdebstrap --quiet --variant=minbase --include=exim4-daemon-heavy,ca-certificates bookworm "$eximroot.new"
  mv "$eximroot.new" "$eximroot"
fi

npmci
