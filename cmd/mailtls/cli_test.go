package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("resolver:\n  servers: [\"127.0.0.1:53\"]\nmta_sts:\n  fetch_timeout: 5s\n"), 0o644)
	os.WriteFile(bad, []byte("mta_sts:\n  fetch_timeout: 5s\n  max_body: 10\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"config", "check", good}, &out, &errb); code != 0 || out.String() != good+": OK\n" || errb.Len() != 0 {
		t.Errorf("good config: exit %d, %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"config", "check", bad}, &out, &errb); code != 1 || errb.String() != bad+":3: mta_sts.max_body: 10 is outside 1024..1048576 bytes\n" || out.Len() != 0 {
		t.Errorf("bad config: exit %d, stdout %q, stderr %q: want the file, line, key and range", code, out.String(), errb.String())
	}
	// Issue 11: an empty file is not a configuration.
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	out.Reset()
	errb.Reset()
	if code := run([]string{"config", "check", empty}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "empty.yaml: the file holds no settings") {
		t.Errorf("empty config: exit %d, stdout %q, stderr %q: want it refused", code, out.String(), errb.String())
	}
}

// Issue 14 item 4: "config check -" reads standard input; -v names the file used.
func TestConfigCheckStdin(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("resolver:\n  servers: [\"127.0.0.1:53\"]\n  timout: 2s\n")
	if code := runIn([]string{"config", "check", "-", "-v"}, in, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "<stdin>:3: resolver.timout: unknown key (did you mean resolver.timeout?)") ||
		!strings.Contains(errb.String(), "configuration - (-config)") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	in = strings.NewReader("resolver:\n  servers: [\"127.0.0.1:53\"]\n")
	if code := runIn([]string{"config", "check", "-"}, in, &out, &errb); code != 0 || out.String() != "<stdin>: OK\n" {
		t.Errorf("good stdin: exit %d, %q", code, out.String())
	}
}

// Issue 14 item 3: $MAILTLS_CONFIG is the file every command uses when -config is not
// given, and -v / config path say so. (The /etc/mailtls/mailtls.yaml step is covered by
// TestServiceConfigFound in a private mount namespace and by config.TestLocate.)
func TestConfigFromEnvironment(t *testing.T) {
	f := filepath.Join(t.TempDir(), "env.yaml")
	os.WriteFile(f, []byte("resolver:\n  servers: [\"127.0.0.1:53\"]\nlog:\n  level: loud\n"), 0o644)
	t.Setenv("MAILTLS_CONFIG", f)
	var out, errb bytes.Buffer
	if code := run([]string{"config", "path"}, &out, &errb); code != 0 || out.String() != f+" ($MAILTLS_CONFIG)\n" {
		t.Errorf("config path: %d %q", code, out.String())
	}
	for _, cmd := range [][]string{{"config", "check"}, {"serve"}, {"query", "example.com", "-local"}, {"cache", "list"}} {
		errb.Reset()
		code := run(append(cmd, "-v"), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "configuration "+f+" ($MAILTLS_CONFIG)") || !strings.Contains(errb.String(), "log.level") {
			t.Errorf("%v: exit %d, want the environment's file used (and its error shown):\n%s", cmd, code, errb.String())
		}
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "mailtls serve [-config FILE]") {
		t.Errorf("no args: exit %d, stderr %q: want the usage", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.HasPrefix(errb.String(), "mailtls: unknown command \"frobnicate\"\n") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"query", "-nosuchflag"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
}

// Issue 14 item 7: -h exits 0 for every command the README's command list shows, and
// the help lists every flag that line shows.
func TestHelpListsREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "## Commands\n\n```\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("README has no command list")
	}
	flagRE := regexp.MustCompile(`(?:^|[\s\[|])(-[a-z][a-z]*)`)
	wordRE := regexp.MustCompile(`^[a-z]+$`)
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		fields := strings.Fields(line)
		var cmd []string
		for _, f := range fields[1:] {
			if !wordRE.MatchString(f) || len(cmd) == 2 {
				break
			}
			cmd = append(cmd, f)
		}
		var out, errb bytes.Buffer
		if code := run(append(cmd, "-h"), &out, &errb); code != 0 {
			t.Errorf("mailtls %s -h: exit %d\n%s%s", strings.Join(cmd, " "), code, out.String(), errb.String())
			continue
		}
		help := out.String() + errb.String()
		for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
			if !strings.Contains(help, m[1]) {
				t.Errorf("mailtls %s -h does not list %s (README: %s)", strings.Join(cmd, " "), m[1], line)
			}
		}
		n++
	}
	if n < 8 {
		t.Errorf("only %d commands found in the README list", n)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "mailtls config path") {
		t.Errorf("mailtls -h: exit %d", code)
	}
}
