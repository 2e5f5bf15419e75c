package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// The pages come from the CLI's help: one per command `mailtls -h` lists, each naming
// every flag that command's -h (and its subcommands') lists, and groff reads them without
// a warning.
func TestPagesFromHelp(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailtls")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mailtls").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "man")
	if err := generate(bin, out, "2026-01-02", "9.9.9"); err != nil {
		t.Fatal(err)
	}
	top, _ := help(bin)
	cmds := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+mailtls ([a-z]+)`).FindAllStringSubmatch(top, -1) {
		cmds[m[1]] = true
	}
	if len(cmds) < 6 {
		t.Fatalf("only %d commands in mailtls -h", len(cmds))
	}
	flagRE := regexp.MustCompile(`(?m)^  (-[a-z][a-z-]*)`)
	for cmd := range cmds {
		page, err := os.ReadFile(filepath.Join(out, "mailtls-"+cmd+".1"))
		if err != nil {
			t.Errorf("no page for %s: %v", cmd, err)
			continue
		}
		if !strings.Contains(string(page), `.TH MAILTLS\-`+strings.ToUpper(cmd)+` 1 "2026-01-02" "mailtls 9.9.9"`) &&
			!strings.Contains(string(page), `.TH MAILTLS-`+strings.ToUpper(cmd)+` 1 "2026-01-02" "mailtls 9.9.9"`) {
			t.Errorf("mailtls-%s.1: header:\n%.200s", cmd, page)
		}
		h, ok := help(bin, cmd)
		if !ok {
			t.Errorf("mailtls %s -h exits non-zero", cmd)
		}
		for _, sub := range []string{"check", "load", "null"} {
			if sh, ok := help(bin, cmd, sub); ok && strings.HasPrefix(sh, "Usage: mailtls "+cmd+" "+sub) {
				h += sh
			}
		}
		for _, f := range flagRE.FindAllStringSubmatch(h, -1) {
			if !strings.Contains(string(page), strings.ReplaceAll(f[1], "-", `\-`)) {
				t.Errorf("mailtls-%s.1 lacks %s", cmd, f[1])
			}
		}
	}
	groff := testenv.LookPath(t, "groff", "Debian package groff-base")
	pages, _ := filepath.Glob(filepath.Join(out, "*.1"))
	for _, p := range pages {
		o, err := exec.Command(groff, "-man", "-ww", "-z", p).CombinedOutput()
		if err != nil || len(o) > 0 {
			t.Errorf("groff %s: %v\n%s", filepath.Base(p), err, o)
		}
	}
}
