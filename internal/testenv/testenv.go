// Package testenv is the one gate for tests that need something outside Go: an installed
// program (Postfix, Unbound, Knot DNS, systemd-analyze…), root, or a network namespace.
// Outside CI a missing part skips the test with the reason; with
// MAILTLS_REQUIRE_INTEGRATION=1 (set by .ci/run and make test) it fails instead, so a
// skipped integration test is never reported as a pass.
//
// Runs that must be asked for (a 10-minute soak, the side-by-side comparison, the child
// process of a test that re-executes itself) go through OptIn: their skip message carries
// OptInMarker, which is how internal/testcheck (the checker make test runs) tells a run
// nobody asked for from a prerequisite that is missing. No test calls t.Skip itself.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that makes missing prerequisites failures.
const RequireEnv = "MAILTLS_REQUIRE_INTEGRATION"

// OptInMarker starts the skip message of a test that runs only when asked for; the
// checker of make test accepts such skips and lists them as not requested.
const OptInMarker = "[testenv opt-in]"

// Required reports whether integration prerequisites must be present.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

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
	Missing(t, name+" not found ("+hint+")")
	return ""
}

// Root skips or fails the test unless it runs as root.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: "+why)
	}
}

// Namespace skips or fails the test unless it can create network namespaces: root and
// ip(8). It returns the path of ip(8).
func Namespace(t testing.TB, why string) string {
	t.Helper()
	Root(t, "network namespace: "+why)
	return LookPath(t, "ip", "Debian package iproute2; network namespace: "+why)
}

// Full skips or fails a test that -short asks to leave out (a long integration suite):
// with integration required, -short is a contradiction and fails the test instead of
// hiding it.
func Full(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		Missing(t, "-short leaves out "+why)
	}
}

// Missing reports a prerequisite the test cannot do without: it fails the test when
// integration is required, and skips it with msg otherwise.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatalf("integration prerequisite missing: %s", msg)
		return
	}
	t.Skipf("skipping: %s (set %s=1 to make this a failure)", msg, RequireEnv)
}

// OptIn returns the value of the environment variable env, and skips the test (also when
// integration is required) when it is empty: the test is a run that has to be asked for,
// and how says how.
func OptIn(t testing.TB, env, how string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s not requested: %s", OptInMarker, how)
	}
	return v
}
