# mailtls — build and test entry points. See README.md.
GO ?= go
export PATH := /usr/local/go/bin:$(PATH):/usr/sbin:/sbin

.PHONY: build test unit e2e deps fuzz bench bench-go bench-cold bench-scale bench-override soak compare clean release release-check deb image

build:
	$(GO) build -o mailtls ./cmd/mailtls

# The test command: installs the real parts the integration tests use (Debian packages,
# needs root the first time), then runs every test with the race detector. Integration
# prerequisites are required here: internal/testcheck reads go test's JSON stream, shows
# failures as go test does, and fails the run when any test skipped (listing them), except
# runs that must be asked for (testenv.OptIn: soak, comparison, helper processes).
test: deps
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	MAILTLS_REQUIRE_INTEGRATION=1 $(GO) run ./internal/testcheck -- $(GO) test -json -race -count=1 -timeout 20m ./...

# Unit tests only, no installs; integration tests skip with their reason.
unit:
	$(GO) test -race ./...

# The end-to-end suite alone: real Postfix, Unbound, Knot and a STARTTLS-stripping
# attacker in a network namespace (root). make test runs it too.
e2e: deps
	MAILTLS_REQUIRE_INTEGRATION=1 $(GO) test -count=1 -v ./e2e

deps:
	bash scripts/install-test-deps.sh

# Each fuzz target for FUZZTIME (default 60s), one after another.
FUZZTIME ?= 60s
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# Every figure of BENCHMARKS.md and README.md, each target the command beside its figure
# (root: the lab's policy hosts listen on :443, compare installs a Debian package and uses
# a network namespace). Knobs: BENCHTIME, SCALE (domains), SCALE_DIR (the store, kept for
# the five scale runs), SCALE_CHURN (the long runs' traffic), SOAK (duration). The whole run
# takes about 45 minutes.
BENCHTIME ?= 1s
SCALE ?= 1000000
SCALE_DIR ?= /tmp/mailtls-scale
SCALE_CHURN ?= 4m
SOAK ?= 10m
SCALE_TEST = MAILTLS_SCALE=$(SCALE) MAILTLS_SCALE_DIR=$(SCALE_DIR) $(GO) test ./policy -run '^TestScaleWarmRestart$$' -count=1 -v -timeout 60m
bench: bench-go bench-cold bench-scale bench-override soak compare

# Hot path, store, socketmap server and load-generator overhead.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./daemon ./socketmap ./cache/... ./internal/loadgen ./dane ./hosting ./tlsrpt/receiver
	$(GO) test -run '^$$' -bench ResolveCached -benchmem -benchtime $(BENCHTIME) ./policy

# Cold answers on the in-process lab.
bench-cold:
	$(GO) test -run '^$$' -bench ColdPath -benchtime 200x ./policy
	$(GO) test -run '^$$' -bench ColdResolve -benchtime 60x ./policy

# 1 000 000 cached policies: default settings, GOMEMLIMIT=360MiB, cache.max_entries 200000,
# then the long run under cached traffic (SCALE_CHURN) with the daemon's collector pacing
# and with Go's own (the runs after the first reuse the store it generated).
bench-scale:
	mkdir -p $(SCALE_DIR)
	$(SCALE_TEST)
	GOMEMLIMIT=360MiB MAILTLS_SCALE_REUSE=1 $(SCALE_TEST)
	MAILTLS_SCALE_MAX_ENTRIES=200000 MAILTLS_SCALE_REUSE=1 $(SCALE_TEST)
	MAILTLS_SCALE_CHURN=$(SCALE_CHURN) MAILTLS_SCALE_REUSE=1 $(SCALE_TEST)
	MAILTLS_SCALE_GC_HEADROOM=0 MAILTLS_SCALE_CHURN=$(SCALE_CHURN) MAILTLS_SCALE_REUSE=1 $(SCALE_TEST)

# mailtls bench load against a daemon answering one override key, beside the null server.
bench-override:
	bash scripts/bench-override.sh

# Load with churn and faults for SOAK (root).
soak:
	MAILTLS_SOAK=$(SOAK) $(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./cmd/mailtls

# mailtls, postfix-mta-sts-resolver and the null server under the same load, in one run
# (root: installs the peer's Debian package, uses a network namespace of its own).
compare:
	bash scripts/compare.sh

# Static linux/amd64 and linux/arm64 binaries, reproducible from the commit (version,
# commit and date stamped), tarballs and SHA256SUMS in dist/. release-check rebuilds
# linux/amd64 from a copy of the source with an empty build cache and compares.
release:
	bash scripts/release.sh
release-check:
	bash scripts/release.sh -verify

# The Debian packages (amd64, arm64) in dist/, built with nfpm from the release binaries.
deb:
	bash scripts/deb.sh

# The OCI image (packaging/oci/Containerfile) with podman, from the static binary.
image: release
	bash scripts/image.sh

clean:
	rm -f mailtls
	rm -rf dist
