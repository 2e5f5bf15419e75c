#!/usr/bin/env bash
# Installs the real parts the integration and end-to-end tests use, as Debian packages:
# Postfix (postmap as a socketmap client; sending and receiving MTAs), Unbound (validating
# resolver), Knot DNS (signed authoritative zones), iproute2 (network namespaces), swaks
# (submits the end-to-end messages), systemd (systemd-analyze verify on the unit), curl
# (fetches a policy from mailtls's MTA-STS policy host as a third-party client).
# Idempotent: does nothing when all are present.
set -euo pipefail

need=()
command -v postmap >/dev/null 2>&1 || [ -x /usr/sbin/postmap ] || need+=(postfix)
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || need+=(knot)
command -v keymgr >/dev/null 2>&1 || [ -x /usr/sbin/keymgr ] || need+=(knot)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v kdig >/dev/null 2>&1 || need+=(knot-dnsutils)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: need root to install: ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how it is used; the tests configure their own instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Packages may start services; the tests run their own instances on other ports.
for svc in unbound knot postfix; do
  systemctl stop "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
