package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if got := cfg.MTASTS.FetchTimeout.D(); got != 10*time.Second {
		t.Errorf("fetch_timeout = %v, want 10s", got)
	}
	if _, ok := cfg.Profiles["postfix"]; !ok {
		t.Error("built-in profile postfix missing")
	}
	if !cfg.Profiles["postfix-tlsrpt"].TLSRPT {
		t.Error("postfix-tlsrpt must have tlsrpt on")
	}
	if len(cfg.Listen.Socketmap) != 1 || cfg.Listen.Socketmap[0].TCP != "127.0.0.1:8461" {
		t.Errorf("default listener = %+v", cfg.Listen.Socketmap)
	}
}

func TestFileOverridesDefault(t *testing.T) {
	cfg, err := Parse([]byte(`
resolver:
  servers: ["127.0.0.1:5353", "[::1]:53"]
mta_sts:
  fetch_timeout: 3s
profiles:
  old:
    testing: enforce
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MTASTS.FetchTimeout.D() != 3*time.Second || cfg.MTASTS.MaxBody != 65536 {
		t.Errorf("mta_sts = %+v: file value or default lost", cfg.MTASTS)
	}
	if len(cfg.Resolver.Servers) != 2 {
		t.Errorf("servers = %v", cfg.Resolver.Servers)
	}
	if cfg.Profiles["old"].Testing != "enforce" || !cfg.Profiles["postfix-tlsrpt"].TLSRPT {
		t.Errorf("profiles = %+v: new profile or built-in lost", cfg.Profiles)
	}
}

// Issue 11: a file without a single setting is refused (config check and SIGHUP both go
// through Parse), so a truncated or empty file cannot reset the running configuration to
// the defaults; {} says "defaults" on purpose and is accepted.
func TestFileWithoutSettingsRefused(t *testing.T) {
	for _, data := range []string{"", "\n", "  \n\t\n", "# nothing here\n", "# a\n\n# b\n", "---\n", "--- # c\n...\n", "~\n", "null\n"} {
		_, err := Parse([]byte(data), "c.yaml")
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(err.Error(), "c.yaml: the file holds no settings") {
			t.Errorf("Parse(%q) = %v, want the file refused as holding no settings", data, err)
		}
	}
	for _, data := range []string{"{}\n", "# defaults\n{}\n", "log: {level: info}\n"} {
		if _, err := Parse([]byte(data), "c.yaml"); err != nil {
			t.Errorf("Parse(%q): %v", data, err)
		}
	}
	if _, err := Load(""); err != nil {
		t.Errorf("no file at all is the embedded default: %v", err)
	}
	if _, err := Parse([]byte("log: [unclosed\n"), "c.yaml"); err == nil || strings.Contains(err.Error(), "no settings") {
		t.Errorf("malformed YAML must get its own error, got %v", err)
	}
}

// Every error names the file and the line of the offending value (issue: "config check
// FILE with errors that name the line").
func TestErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		contains   string
	}{
		{"unknown key", "log:\n  level: info\n  colour: red\n", 3, "colour"},
		{"bad duration", "mta_sts:\n  fetch_timeout: ten\n", 2, "invalid duration"},
		{"duration out of range", "mta_sts:\n\n  fetch_timeout: 200s\n", 3, "fetch_timeout"},
		{"bad enum", "log:\n  level: loud\n", 2, "log.level"},
		{"bad server", "resolver:\n  servers:\n    - 127.0.0.1:53\n    - resolver.example\n", 4, "resolver.servers.1"},
		{"listener needs one kind", "listen:\n  socketmap:\n    - tcp: 127.0.0.1:1\n      unix: /x\n", 3, "exactly one of tcp or unix"},
		{"bad mode", "listen:\n  socketmap:\n    - unix: /x\n      mode: rw\n", 4, "octal"},
		{"bad profile option", "profiles:\n  p:\n    testing: maybe\n", 3, "profiles.p.testing"},
		{"bad yaml", "log: [\n", 1, ""},
		{"wrong type", "cache:\n  max_entries: many\n", 2, "many"},
		{"missing ca file", "mta_sts:\n  ca_file: /nonexistent/ca.pem\n", 2, "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "bad.yaml")
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("err = %v, want config.Errors", err)
			}
			e := errs[0]
			if e.Line != tt.line || e.File != "bad.yaml" || !strings.Contains(e.Error(), tt.contains) {
				t.Errorf("got %q (line %d), want line %d containing %q", e.Error(), e.Line, tt.line, tt.contains)
			}
		})
	}
}

// Every bad value of a file is reported in one run, each with its line, in file order:
// values the YAML decoder rejects (durations) and values validation rejects (log.*) alike.
func TestAllErrorsReported(t *testing.T) {
	_, err := Parse([]byte("log:\n  level: loud\n  format: xml\nmta_sts:\n  fetch_timeout: x\n  failure_retry: y\n"), "f")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want config.Errors", err)
	}
	want := []struct {
		line     int
		contains string
	}{
		{2, `log.level: "loud" is not one of`},
		{3, `log.format: "xml" is not one of`},
		{5, `invalid duration "x"`},
		{6, `invalid duration "y"`},
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if e := errs[i]; e.File != "f" || e.Line != w.line || !strings.Contains(e.Msg, w.contains) {
			t.Errorf("error %d: %s (line %d), want line %d containing %q", i, e, e.Line, w.line, w.contains)
		}
	}
}

// A syntax error stops at itself: nothing after it was decoded, so nothing is validated.
func TestSyntaxErrorAlone(t *testing.T) {
	_, err := Parse([]byte("log:\n  level: loud\n  format: [\n"), "f")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != "f" || strings.Contains(errs[0].Msg, "log.level") {
		t.Fatalf("got %v, want the one syntax error", err)
	}
}
