# mailtls — build and test entry points. See README.md.
GO ?= go
export PATH := /usr/local/go/bin:$(PATH):/usr/sbin:/sbin

.PHONY: build test unit e2e deps fuzz bench compare clean

build:
	$(GO) build -o mailtls ./cmd/mailtls

# The test command: installs the real parts the integration tests use (Debian packages,
# needs root the first time), then runs every test with the race detector. Integration
# prerequisites are required here, so nothing is silently skipped.
test: deps
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	MAILTLS_REQUIRE_INTEGRATION=1 $(GO) test -race -count=1 -timeout 20m ./...

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

# Go benchmarks of the engine, the socketmap server and the cold path (root: the lab's
# policy host listens on :443). Figures and method: BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./policy ./socketmap ./cache/... ./hosting

# mailtls, postfix-mta-sts-resolver and the null server under the same load, in one run
# (root: installs the peer's Debian package, uses a network namespace of its own).
compare:
	bash scripts/compare.sh

clean:
	rm -f mailtls
