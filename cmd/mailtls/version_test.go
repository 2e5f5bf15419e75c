package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Issue 14 item 2: `mailtls version` prints the stamped version, commit and date and the
// Go version. (make release stamps them; TestReleaseReproducible in packaging checks the
// release binary's output.)
func TestVersionOutput(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailtls")
	pkg := "github.com/mailtls/mailtls/internal/buildinfo"
	ld := "-X " + pkg + ".version=9.8.7 -X " + pkg + ".commit=0123abcd -X " + pkg + ".date=2026-01-02T03:04:05Z"
	if out, err := exec.Command("go", "build", "-ldflags", ld, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	want := "mailtls 9.8.7 (commit 0123abcd, 2026-01-02T03:04:05Z, " + runtime.Version() + ")\n"
	if err != nil || string(out) != want {
		t.Errorf("stamped: %q (%v), want %q", out, err, want)
	}

}
