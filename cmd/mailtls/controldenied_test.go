package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
)

// An operator who runs the CLI as a user the control socket does not admit gets told so:
// the daemon is running, so query must not answer "no daemon" with a result of its own,
// and cache must not open the store behind the daemon's back. query -local still works
// for that user, in its own process.
func TestCLIControlSocketDenied(t *testing.T) {
	testenv.Root(t, "run the CLI as another user (nobody) against a root daemon's control socket")
	// Everything the other user must reach lives in a directory it may enter; the control
	// socket itself is the daemon's (mode 0600, root).
	dir, err := os.MkdirTemp("", "mailtls-denied-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildBinaryIn(t, dir) // t.TempDir() is closed to other users
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := lab.FreeAddr(t)
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir: %s\nresolver: {servers: [\"127.0.0.1:1\"], timeout: 300ms}\nlisten:\n  socketmap: [{tcp: %q}]\n", state, addr))
	startDaemon(t, bin, cfg, addr)
	if fi, err := os.Stat(filepath.Join(state, "control.sock")); err != nil || fi.Mode().Perm()&0o006 != 0 {
		t.Fatalf("control socket: %v, mode %v; want it closed to other users", err, fi.Mode())
	}

	asNobody := func(args ...string) (string, string, int) {
		t.Helper()
		c := exec.Command(bin, append(args, "-config", cfg)...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		c.Dir = dir
		var stdout, stderr strings.Builder
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}

	out, errOut, code := asNobody("query", "example.com")
	if code != 1 || out != "" || strings.Contains(errOut, "resolved in this process") ||
		!strings.Contains(errOut, "not allowed to use the control socket "+filepath.Join(state, "control.sock")) ||
		!strings.Contains(errOut, "a daemon may be running") || !strings.Contains(errOut, "-local") {
		t.Errorf("query as nobody: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	out, errOut, code = asNobody("cache", "list")
	if code != 1 || strings.Contains(errOut, "reading the store") || !strings.Contains(errOut, "not allowed to use the control socket") {
		t.Errorf("cache list as nobody: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	out, errOut, code = asNobody("query", "example.com", "-local")
	if code != 0 || !strings.HasPrefix(out, "example.com  (profile postfix, resolved in this process (-local))") {
		t.Errorf("query -local as nobody: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
