#!/usr/bin/env bash
# make deb: the Debian package for linux/amd64 and linux/arm64, from the release binaries
# (scripts/release.sh builds them when missing), with manual pages generated from the
# binary's own help (packaging/man) and nfpm as the packager (packaging/deb/nfpm.yaml),
# run at a pinned version through the Go toolchain. Reproducible from the commit like the
# binaries (SOURCE_DATE_EPOCH). OUT=DIR (default dist), ARCHES="amd64".
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
. scripts/buildvars.sh
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
out=$(mkdir -p "${OUT:-dist}" && cd "${OUT:-dist}" && pwd)
arches=${ARCHES:-amd64 arm64}
host=$(go env GOARCH)

# One release build for every architecture needed (release.sh replaces dist's binaries).
all=$(printf '%s\n' $arches $host | sort -u | tr '\n' ' ')
for arch in $all; do
  if [ ! -x "$out/mailtls_${VERSION}_linux_$arch/mailtls" ]; then
    OUT="$out" ARCHES="$all" bash scripts/release.sh >/dev/null
    break
  fi
done

man="$out/man"
rm -rf "$man"
go run ./packaging/man -bin "$out/mailtls_${VERSION}_linux_$host/mailtls" -out "$man" -version "$VERSION"
gzip -n -9 "$man"/*.1
touch -d "@$SOURCE_DATE_EPOCH" "$man"/*.gz

rm -f "$out"/mailtls_*.deb
for arch in $arches; do
  deb="$out/mailtls_${VERSION}_$arch.deb"
  rm -f "$deb"
  # nfpm resolves src paths from the configuration's directory.
  (cd packaging/deb && ARCH="$arch" BINDIR="$out/mailtls_${VERSION}_linux_$arch" MANDIR="$man" \
    go run "$NFPM" package --config nfpm.yaml --packager deb --target "$deb" | grep -v '^using deb packager' || true)
  [ -f "$deb" ] || { echo "deb: nfpm did not write $deb" >&2; exit 1; }
  echo "$deb"
done
(cd "$out" && sha256sum mailtls_*.deb >SHA256SUMS-deb)
