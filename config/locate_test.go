package config

import (
	"os"
	"path/filepath"
	"testing"
)

// Issue 14 item 3: -config, then $MAILTLS_CONFIG, then the service's file when it exists,
// else the embedded default.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "mailtls.yaml")
	if err := os.WriteFile(present, []byte("log:\n  level: debug\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "none.yaml")
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, flag, env, def string
		want                 string
		why                  string
	}{
		{"flag wins", "/x/flag.yaml", "/x/env.yaml", present, "/x/flag.yaml", "-config"},
		{"environment next", "", "/x/env.yaml", present, "/x/env.yaml", "$MAILTLS_CONFIG"},
		{"service file when present", "", "", present, present, "the service's file"},
		{"embedded default otherwise", "", "", absent, "", "embedded default: " + absent + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Locate(tc.flag, env(tc.env), tc.def)
			if got.Path != tc.want || got.Why != tc.why {
				t.Errorf("Locate = %+v, want path %q why %q", got, tc.want, tc.why)
			}
		})
	}
}
