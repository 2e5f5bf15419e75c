package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// The unit must pass systemd-analyze verify (with ExecStart pointed at a binary that
// exists) and keep its hardening.
func TestUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile("mailtls.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n", "StateDirectory=mailtls", "NoNewPrivileges=yes", "ExecReload="} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	sa := testenv.LookPath(t, "systemd-analyze", "Debian package systemd")
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailtls")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	u := strings.ReplaceAll(string(unit), "/usr/local/bin/mailtls", bin)
	path := filepath.Join(dir, "mailtls.service")
	os.WriteFile(path, []byte(u), 0o644)
	// The optional socket unit, beside the service it activates.
	sock, err := os.ReadFile("mailtls.socket")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sock), "ListenStream=127.0.0.1:8461") {
		t.Error("socket unit does not listen on the documented address")
	}
	sockPath := filepath.Join(dir, "mailtls.socket")
	os.WriteFile(sockPath, sock, 0o644)
	for _, p := range []string{path, sockPath} {
		out, err := exec.Command(sa, "verify", p).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}
