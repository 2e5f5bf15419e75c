package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder stands in for a test: it records Fatalf and Skipf instead of ending the
// goroutine, so the gate's choice between the two can be checked.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
}

// The gate: a missing prerequisite skips with its reason, or fails when integration is
// required; a found program neither skips nor fails.
func TestGate(t *testing.T) {
	for _, required := range []bool{false, true} {
		t.Run(fmt.Sprintf("required=%v", required), func(t *testing.T) {
			v := ""
			if required {
				v = "1"
			}
			t.Setenv(RequireEnv, v)
			cases := []struct {
				name string
				gate func(tb testing.TB)
				want string // "" = neither skip nor fail
			}{
				{"missing program", func(tb testing.TB) { LookPath(tb, "mailtls-no-such-program", "hint") }, "mailtls-no-such-program not found (hint)"},
				{"present program", func(tb testing.TB) { LookPath(tb, "sh", "hint") }, ""},
				{"Missing", func(tb testing.TB) { Missing(tb, "a part") }, "a part"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := &recorder{TB: t}
					tc.gate(r)
					switch {
					case tc.want == "":
						if r.fatal != "" || r.skip != "" {
							t.Fatalf("fatal %q, skip %q; want neither", r.fatal, r.skip)
						}
					case required:
						if !strings.Contains(r.fatal, tc.want) || r.skip != "" {
							t.Fatalf("fatal %q, skip %q; want a failure naming %q", r.fatal, r.skip, tc.want)
						}
					default:
						if !strings.Contains(r.skip, tc.want) || r.fatal != "" || strings.Contains(r.skip, OptInMarker) {
							t.Fatalf("fatal %q, skip %q; want a plain skip naming %q", r.fatal, r.skip, tc.want)
						}
					}
				})
			}
		})
	}
}

// OptIn skips with the marker whether or not integration is required, and returns the
// variable's value when it is set.
func TestOptIn(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	t.Setenv("MAILTLS_TESTENV_OPTIN", "")
	r := &recorder{TB: t}
	if v := OptIn(r, "MAILTLS_TESTENV_OPTIN", "set it"); v != "" || r.fatal != "" || !strings.HasPrefix(r.skip, OptInMarker) || !strings.Contains(r.skip, "set it") {
		t.Fatalf("unset: value %q, fatal %q, skip %q", v, r.fatal, r.skip)
	}
	t.Setenv("MAILTLS_TESTENV_OPTIN", "10m")
	r = &recorder{TB: t}
	if v := OptIn(r, "MAILTLS_TESTENV_OPTIN", "set it"); v != "10m" || r.fatal != "" || r.skip != "" {
		t.Fatalf("set: value %q, fatal %q, skip %q", v, r.fatal, r.skip)
	}
}
