package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// The units must pass systemd-analyze verify (with ExecStart pointed at a binary that
// exists), keep their hardening, and give the daemon the directories its examples use.
func TestUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile("mailtls.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=mailtls\n", "ProtectSystem=strict", "CapabilityBoundingSet=\n",
		"StateDirectory=mailtls\n", "LogsDirectory=mailtls\n", "NoNewPrivileges=yes", "ExecReload=",
		"ExecStart=/usr/bin/mailtls serve -config /etc/mailtls/mailtls.yaml\n",
		"SystemCallFilter=~@privileged @resources\n", "SystemCallErrorNumber=EPERM\n"} {
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
	u := strings.ReplaceAll(string(unit), "/usr/bin/mailtls", bin)
	// verify checks that User= exists on this machine (the package creates "mailtls"); the
	// manual pages are checked by the package test, where they are installed.
	u = strings.ReplaceAll(u, "User=mailtls\nGroup=mailtls\n", "User=daemon\nGroup=daemon\n")
	path := filepath.Join(dir, "mailtls.service")
	os.WriteFile(path, []byte(u), 0o644)
	// The optional socket unit, beside the service it activates, with the chrooted-Postfix
	// drop-in the 3.10 example ships.
	sock, err := os.ReadFile("mailtls.socket")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sock), "ListenStream=127.0.0.1:8461") {
		t.Error("socket unit does not listen on the documented address")
	}
	sockPath := filepath.Join(dir, "mailtls.socket")
	os.WriteFile(sockPath, sock, 0o644)
	dropIn, err := os.ReadFile("../../examples/postfix-3.10/mailtls.socket.d/postfix-chroot.conf")
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(sockPath+".d", 0o755)
	os.WriteFile(filepath.Join(sockPath+".d", "postfix-chroot.conf"), dropIn, 0o644)
	for _, p := range []string{path, sockPath} {
		out, err := exec.Command(sa, "verify", "--man=no", p).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}
