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

# MAILTLS_PODMAN_RUNTIME=runc where crun cannot run (a machine with hybrid cgroups); the
# limits are lowered, never raised, so a machine without CAP_SYS_RESOURCE can apply them.
# --dns 127.0.0.1: the container's own loopback, so the smoke test sends DNS nowhere.
run=(podman ${MAILTLS_PODMAN_RUNTIME:+--runtime "$MAILTLS_PODMAN_RUNTIME"} run
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --dns 127.0.0.1)
"${run[@]}" --rm "$tag" version
"${run[@]}" --rm "$tag" config check
name="mailtls-smoke-$$"
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
"${run[@]}" -d --name "$name" -p 127.0.0.1::8461 "$tag" >/dev/null
port=$(podman port "$name" 8461/tcp | sed 's/.*://')
reply=""
for _ in $(seq 50); do
  # A parent-domain probe: answered NOTFOUND without any lookup (socketmap netstrings).
  reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf '12:postfix .lan,' >&3 && IFS= read -r -d , -t 2 r <&3; printf '%s' \"\$r\"" 2>/dev/null || true)
  [ -n "$reply" ] && break
  sleep 0.2
done
echo "socketmap reply through the published port: $reply"
case $reply in *NOTFOUND*) ;; *) podman logs "$name" >&2; exit 1 ;; esac
echo "image $tag built and answered"
