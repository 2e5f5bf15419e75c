package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 14 item 4: errors name keys by YAML path, suggest the nearest key, come sorted by
// line, and cover what serve would reject or run unbounded.
func TestCheckMessages(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // in this order
	}{
		{"unknown key with its path and a suggestion", "resolver:\n  timout: 2s\n",
			[]string{"x.yaml:2: resolver.timout: unknown key (did you mean resolver.timeout?)"}},
		{"unknown top-level key", "metric:\n  listen: 127.0.0.1:9461\n",
			[]string{"x.yaml:1: metric: unknown key (did you mean metrics?)"}},
		{"no suggestion for a name unlike any key", "resolver:\n  frobnicator: 1\n",
			[]string{"x.yaml:2: resolver.frobnicator: unknown key\n"}},
		{"unknown key in a profile and in a list entry", "profiles:\n  p:\n    tlsprt: true\noverrides:\n  - {domain: a.example, levle: none}\n",
			[]string{"x.yaml:3: profiles.p.tlsprt: unknown key (did you mean profiles.p.tlsrpt?)", "x.yaml:5: overrides.0.levle: unknown key (did you mean overrides.0.level?)"}},
		{"wrong type names the key, not a Go type", "cache:\n  max_entries: lots\n",
			[]string{"x.yaml:2: cache.max_entries: ", "into a whole number"}},
		{"sorted by line", "metrics:\n  listen: 127.0.0.1:99999\nlog:\n  level: loud\n",
			[]string{"x.yaml:2: metrics.listen", "x.yaml:4: log.level"}},
		{"port zero", "listen:\n  socketmap:\n    - tcp: 127.0.0.1:0\n",
			[]string{"x.yaml:3: listen.socketmap.0.tcp: \"127.0.0.1:0\": port \"0\" is not a number from 1 to 65535"}},
		{"named port", "metrics:\n  listen: 127.0.0.1:http\n", []string{"metrics.listen", "is not a number"}},
		{"host name", "metrics:\n  listen: mail.example:9461\n", []string{"host \"mail.example\" is not an IP address"}},
		{"two listeners, one address", "listen:\n  socketmap:\n    - tcp: 127.0.0.1:8461\nmetrics:\n  listen: 127.0.0.1:8461\n",
			[]string{"x.yaml:5: metrics.listen: 127.0.0.1:8461 is also used by listen.socketmap.0.tcp"}},
		{"relative paths", "state_dir: state\naudit:\n  file: audit.log\nlisten:\n  socketmap:\n    - unix: run/mailtls.sock\n",
			[]string{"x.yaml:1: state_dir: \"state\" is not an absolute path", "x.yaml:3: audit.file: \"audit.log\" is not an absolute path", "x.yaml:6: listen.socketmap.0.unix: \"run/mailtls.sock\" is not an absolute path"}},
		{"zero cache size", "cache:\n  max_entries: 0\n", []string{"x.yaml:2: cache.max_entries: must be at least 1"}},
		{"collector headroom under 1 MiB", "cache:\n  gc_headroom: 65536\n",
			[]string{"x.yaml:2: cache.gc_headroom: 65536 is below 1048576 (1 MiB); 0 leaves the collector's pacing to Go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "x.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error() + "\n"
			at := 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, msg)
				}
				at += i + len(w)
			}
			if strings.Contains(msg, "config.") || strings.Contains(msg, "int64") || strings.Contains(msg, "not found in type") {
				t.Errorf("error names Go types:\n%s", msg)
			}
		})
	}
}

// stdout ("-") for the audit log and IPv6 listeners stay valid.
func TestCheckAccepts(t *testing.T) {
	y := "audit:\n  file: \"-\"\nlisten:\n  socketmap:\n    - tcp: \"[::1]:8461\"\n    - tcp: 127.0.0.1:8461\nmetrics:\n  listen: localhost:9461\n"
	if _, err := Parse([]byte(y), "ok.yaml"); err != nil {
		t.Fatal(err)
	}
}

// CheckFiles: a missing audit directory is found before serve fails on it; a present
// one passes.
func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "log", "mailtls")
	cfg, err := Parse([]byte("resolver:\n  servers: [\"127.0.0.1:53\"]\naudit:\n  file: "+missing+"/audit.log\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckFiles()
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Line != 4 || !strings.Contains(es[0].Msg, "audit.file: directory "+missing+" does not exist") {
		t.Fatalf("CheckFiles = %v", err)
	}
	if err := os.MkdirAll(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckFiles(); err != nil {
		t.Errorf("with the directory: %v", err)
	}
}
