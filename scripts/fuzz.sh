#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time each (default 60s), one after
# another. Crashers are written to the package's testdata/fuzz/ and stay as regression
# tests of `go test`.
#
# Go's fuzzer can end a run with "context deadline exceeded" and no crasher when the time
# runs out while it is still minimizing a new interesting input (not a failure of the code
# under test). Such a run is repeated, up to twice; any run that writes a crasher, or fails
# in any other way, fails the script at once.
set -euo pipefail
t=${1:-60s}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for try in 1 2 3; do
      echo "== $pkg $f ($t, run $try)"
      if go test -run "^$" -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$log"; then
        break
      fi
      if grep -q 'Failing input written to' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
        echo "fuzz: $pkg $f failed (crasher, if any, under $dir/testdata/fuzz/$f)" >&2
        exit 1
      fi
      if [ "$try" = 3 ]; then
        echo "fuzz: $pkg $f ran out of time while minimizing, three times in a row" >&2
        exit 1
      fi
      echo "fuzz: $pkg $f: time ran out while minimizing a new input (no crasher); running it again" >&2
    done
  done
done
