# Sourced by release.sh and deb.sh: the version, commit and date a build is stamped with,
# all from the commit being built, so two builds of one commit are byte-identical.
#   VERSION            vX.Y.Z tag on HEAD without the v, else 0.0.0~gitYYYYMMDDHHMMSS.SHORT
#   COMMIT             full hash, with -dirty when the work tree has uncommitted changes
#   DATE               the commit date, RFC 3339 UTC
#   SOURCE_DATE_EPOCH  the commit date in seconds (tar, nfpm and the manual pages use it)
# Each may be given in the environment instead (a build from a source tarball has no git).
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
if [ -z "${COMMIT:-}" ]; then
  COMMIT=$(git rev-parse HEAD)
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    COMMIT="$COMMIT-dirty"
  fi
fi
if [ -z "${DATE:-}" ]; then
  DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
fi
if [ -z "${VERSION:-}" ]; then
  if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
    VERSION=${tag#v}
  else
    VERSION="0.0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).$(git rev-parse --short=12 HEAD)"
  fi
fi
export VERSION COMMIT DATE SOURCE_DATE_EPOCH
