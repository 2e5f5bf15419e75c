// Package skipdemo is what TestCheckerOnRealStream runs with go test: a passing test, a
// test whose prerequisite is missing, a bare t.Skip, and an opt-in run nobody asked for.
// It lives under testdata so that go test ./... never runs it.
package skipdemo

import (
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

func TestPasses(t *testing.T) {}

func TestNeedsProgram(t *testing.T) {
	testenv.LookPath(t, "mailtls-no-such-program", "the demo's missing part")
}

func TestBareSkip(t *testing.T) {
	t.Skip("a bare skip, not through the gate")
}

func TestOptInRun(t *testing.T) {
	testenv.OptIn(t, "MAILTLS_SKIPDEMO_RUN", "MAILTLS_SKIPDEMO_RUN=1")
}
