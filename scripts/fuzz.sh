#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time each (default 60s), one after
# another. Crashers are written to the package's testdata/fuzz/ and stay as regression
# tests of `go test`.
set -euo pipefail
t=${1:-60s}
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $f ($t)"
    go test -run "^$" -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime 5s "$pkg"
  done
done
