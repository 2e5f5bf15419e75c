#!/usr/bin/env bash
# make release: static linux/amd64 and linux/arm64 binaries, reproducible from the commit
# (CGO_ENABLED=0, -trimpath, no build id, no VCS stamp that depends on the checkout;
# version, commit and commit date stamped with -ldflags -X; tar and gzip with fixed
# owners, order and times), one tarball per platform, and SHA256SUMS.
#
#   bash scripts/release.sh            build into dist/ (OUT=DIR to change, ARCHES="amd64")
#   bash scripts/release.sh -verify    build linux/amd64 again from a copy of the source at
#                                      another path with an empty build cache, and fail
#                                      unless the binary and tarball are byte-identical
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
. scripts/buildvars.sh

pkg=github.com/mailtls/mailtls/internal/buildinfo
ldflags="-s -w -buildid= -X $pkg.version=$VERSION -X $pkg.commit=$COMMIT -X $pkg.date=$DATE"

# build OUTDIR ARCH: the binary and its tarball for linux/ARCH.
build() {
  local out=$1 arch=$2 name="mailtls_${VERSION}_linux_$2"
  mkdir -p "$out/$name"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -buildvcs=false \
    -ldflags "$ldflags" -o "$out/$name/mailtls" ./cmd/mailtls
  cp README.md "$out/$name/"
  cp packaging/systemd/mailtls.service packaging/systemd/mailtls.socket packaging/systemd/mailtls.sysusers "$out/$name/"
  touch -d "@$SOURCE_DATE_EPOCH" "$out/$name" "$out/$name"/*
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$out" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
}

out=${OUT:-dist}
if [ "${1:-}" = -verify ]; then
  # The same stamps as the release being checked (recorded by it), so only the build differs.
  [ -f "$out/BUILDINFO" ] || { echo "release -verify: run make release first" >&2; exit 1; }
  . "$out/BUILDINFO"
  ldflags="-s -w -buildid= -X $pkg.version=$VERSION -X $pkg.commit=$COMMIT -X $pkg.date=$DATE"
  [ -f "$out/mailtls_${VERSION}_linux_amd64/mailtls" ] || { echo "release -verify: run make release first" >&2; exit 1; }
  tmp=$(mktemp -d /tmp/mailtls-repro.XXXXXX)
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  mkdir "$tmp/src"
  # The Haraka plugin's npm packages (test-only, thousands of files) are not part of the build.
  tar -c --exclude=./dist --exclude=./.git --exclude=./integrations/haraka/node_modules . | tar -x -C "$tmp/src"
  (cd "$tmp/src" && GOCACHE="$tmp/cache" OUT="$tmp/out" build "$tmp/out" amd64)
  for f in "mailtls_${VERSION}_linux_amd64/mailtls" "mailtls_${VERSION}_linux_amd64.tar.gz"; do
    a=$(sha256sum <"$out/$f" | cut -d' ' -f1)
    b=$(sha256sum <"$tmp/out/$f" | cut -d' ' -f1)
    if [ "$a" != "$b" ]; then
      echo "release -verify: $f differs between two builds: $a vs $b" >&2
      exit 1
    fi
    echo "reproducible: $f $a"
  done
  exit 0
fi

rm -rf "$out"/mailtls_*_linux_*
mkdir -p "$out"
printf 'VERSION=%q\nCOMMIT=%q\nDATE=%q\nSOURCE_DATE_EPOCH=%q\n' "$VERSION" "$COMMIT" "$DATE" "$SOURCE_DATE_EPOCH" >"$out/BUILDINFO"
for arch in ${ARCHES:-amd64 arm64}; do
  build "$out" "$arch"
done
(cd "$out" && sha256sum mailtls_*_linux_*.tar.gz mailtls_*_linux_*/mailtls >SHA256SUMS)
cat "$out/SHA256SUMS"
"$out/mailtls_${VERSION}_linux_$(go env GOARCH)/mailtls" version 2>/dev/null || true
