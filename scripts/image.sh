#!/usr/bin/env bash
# make image: the OCI image of packaging/oci/Containerfile for this machine's
# architecture, from the release binary (make release), with podman, then a smoke test:
# `version`, `config check` of the image's configuration, and `serve` answering a
# socketmap query on a published loopback port. Needs podman (Debian package podman).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
. scripts/buildvars.sh
command -v podman >/dev/null 2>&1 || { echo "image: podman is not installed (apt-get install podman)" >&2; exit 1; }
arch=$(go env GOARCH)
bin="dist/mailtls_${VERSION}_linux_$arch/mailtls"
[ -x "$bin" ] || { echo "image: $bin missing: run make release" >&2; exit 1; }

ctx=dist/image
rm -rf "$ctx"
mkdir -p "$ctx/state"
cp packaging/oci/Containerfile packaging/oci/passwd packaging/oci/group packaging/oci/mailtls.yaml "$ctx/"
cp "$bin" "$ctx/mailtls"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
tag="localhost/mailtls:${VERSION//\~/-}"
podman build --timestamp "$SOURCE_DATE_EPOCH" -f "$ctx/Containerfile" -t "$tag" "$ctx"

podman run --rm "$tag" version
podman run --rm "$tag" config check
name="mailtls-smoke-$$"
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
podman run -d --name "$name" -p 127.0.0.1::8461 "$tag" >/dev/null
port=$(podman port "$name" 8461/tcp | sed 's/.*://')
for i in $(seq 50); do
  reply=$(printf '12:postfix .lan,' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3; head -c 64 <&3" 2>/dev/null || true)
  [ -n "$reply" ] && break
  sleep 0.2
done
echo "socketmap reply through the published port: $reply"
case $reply in *NOTFOUND*|*OK*|*TEMP*) ;; *) podman logs "$name" >&2; exit 1 ;; esac
echo "image $tag built and answered"
