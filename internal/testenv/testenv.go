// Package testenv lets tests that need real parts (Postfix, Unbound, Knot DNS, root for
// network namespaces) say so. Outside CI a missing part skips the test with the reason;
// with MAILTLS_REQUIRE_INTEGRATION=1 (set by .ci/run and make test) it fails instead, so
// a skipped integration test is never reported as a pass.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether integration prerequisites must be present.
func Required() bool { return os.Getenv("MAILTLS_REQUIRE_INTEGRATION") == "1" }

// LookPath returns the path of a command the test needs, or skips/fails the test.
func LookPath(t testing.TB, name string, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/lib/postfix/sbin"} {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return dir + "/" + name
		}
	}
	missing(t, name+" not found ("+hint+")")
	return ""
}

// Root skips or fails the test unless it runs as root.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root: "+why)
	}
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatalf("integration prerequisite missing: %s", msg)
	}
	t.Skipf("skipping: %s (set MAILTLS_REQUIRE_INTEGRATION=1 to make this a failure)", msg)
}
