package systemd

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// sandboxTools builds mailtls and unitexec, and checks what the sandbox needs.
func sandboxTools(t *testing.T) (mailtls, unitexec string) {
	t.Helper()
	testenv.Root(t, "namespaces, overlays, setpriv to other users")
	for _, c := range []struct{ name, pkg string }{{"unshare", "util-linux"}, {"setpriv", "util-linux"},
		{"systemd-analyze", "systemd"}, {"postmap", "postfix"}, {"ip", "iproute2"}} {
		testenv.LookPath(t, c.name, "Debian package "+c.pkg)
	}
	if _, err := user.Lookup("postfix"); err != nil {
		testenv.LookPath(t, "postfix-user", "the postfix user (Debian package postfix)")
	}
	dir := t.TempDir()
	mailtls, unitexec = filepath.Join(dir, "mailtls"), filepath.Join(dir, "unitexec")
	for bin, pkg := range map[string]string{mailtls: "../../cmd/mailtls", unitexec: "./internal/unitexec"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return mailtls, unitexec
}

// runSandbox runs testdata/sandbox.sh in new mount, PID and network namespaces.
func runSandbox(t *testing.T, mailtls, unitexec, config, mapSpec, expect string, startFlags ...string) string {
	t.Helper()
	work := t.TempDir()
	args := append([]string{"--mount", "--pid", "--mount-proc", "--net", "--fork", "--kill-child",
		"bash", "testdata/sandbox.sh", work, mailtls, unitexec, config, mapSpec, expect}, startFlags...)
	out, err := exec.Command("unshare", args...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	return string(out)
}

// withOverride is an example configuration plus one override, so a query shows a
// non-empty answer without any network.
func withOverride(t *testing.T, example string) string {
	t.Helper()
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mailtls.yaml")
	if !strings.Contains(string(b), "\noverrides:") {
		b = append(b, "overrides:\n  - {domain: example.com, level: encrypt}\n"...)
	} else if !strings.Contains(string(b), "{domain: example.com, level: encrypt}") {
		t.Fatalf("%s has overrides of its own, without example.com: encrypt", example)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 14 item 4: the chrooted-Postfix setup works under the shipped units. systemd's
// socket (mailtls.socket with the 3.10 example's drop-in) is created in Postfix's spool as
// postfix:postfix 0660; the daemon runs with mailtls.service's own settings (user mailtls,
// ProtectSystem=strict, no capabilities, no_new_privs, the unit's SystemCallFilter as a
// seccomp filter) and the postfix user's postmap gets its answer through the spool socket.
func TestChrootSocketUnderUnitSandbox(t *testing.T) {
	mailtls, unitexec := sandboxTools(t)
	cfg := withOverride(t, "../../examples/postfix-3.10/mailtls.yaml")
	out := runSandbox(t, mailtls, unitexec, cfg, "socketmap:unix:/var/spool/postfix/private/mailtls:postfix-tlsrpt", "encrypt",
		"-service", "mailtls.service", "-socket", "mailtls.socket",
		"-dropin", "../../examples/postfix-3.10/mailtls.socket.d/postfix-chroot.conf")
	for _, want := range []string{"spool socket postfix:postfix 0660", "tlsrpt socket postfix:postfix 0660 from systemd",
		"seccomp filter, no capabilities", "stopped cleanly"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q check", want)
		}
	}
}

// Issue 14 item 4: every example configuration passes config check and serves under the
// unit's sandbox, with the socket drop-ins it ships (mailtls.socket.d/*.conf) as an
// operator installs them; an example without drop-ins binds its own listeners. The
// quick-start example carries the override itself.
func TestExamplesServeUnderUnitSandbox(t *testing.T) {
	mailtls, unitexec := sandboxTools(t)
	examples, _ := filepath.Glob("../../examples/*/mailtls.yaml")
	if len(examples) < 3 {
		t.Fatalf("examples: %v", examples)
	}
	for _, ex := range examples {
		t.Run(filepath.Base(filepath.Dir(ex)), func(t *testing.T) {
			flags := []string{"-service", "mailtls.service"}
			dropIns, _ := filepath.Glob(filepath.Join(filepath.Dir(ex), "mailtls.socket.d", "*.conf"))
			if len(dropIns) > 0 {
				flags = append(flags, "-socket", "mailtls.socket")
			}
			for _, d := range dropIns {
				flags = append(flags, "-dropin", d)
			}
			runSandbox(t, mailtls, unitexec, withOverride(t, ex), "socketmap:inet:127.0.0.1:8461:postfix", "encrypt", flags...)
		})
	}
}

// A configuration the unit cannot serve (a Unix listener the daemon would have to chown)
// makes the daemon say why and exit 1, instead of dying by SIGSYS without a log line and
// restarting in a loop (SystemCallErrorNumber=EPERM).
func TestForbiddenCallIsLoggedNotKilled(t *testing.T) {
	mailtls, unitexec := sandboxTools(t)
	p := filepath.Join(t.TempDir(), "mailtls.yaml")
	os.WriteFile(p, []byte("resolver:\n  servers: [\"127.0.0.1:53\"]\nlisten:\n  socketmap:\n    - unix: /var/lib/mailtls/socketmap.sock\n      owner: postfix\n      group: postfix\n"), 0o644)
	runSandbox(t, mailtls, unitexec, p, "-", "fail:operation not permitted", "-service", "mailtls.service")
}

// The same configuration under the unit without SystemCallErrorNumber= is what the issue
// found: the chown is a filtered call and the kernel kills the daemon with SIGSYS, with no
// log line. (Shows that the filter is live and that EPERM is what makes it explain itself.)
func TestForbiddenCallKillsWithoutErrorNumber(t *testing.T) {
	mailtls, unitexec := sandboxTools(t)
	unit, err := os.ReadFile("mailtls.service")
	if err != nil {
		t.Fatal(err)
	}
	old := strings.ReplaceAll(string(unit), "SystemCallErrorNumber=EPERM\n", "")
	svc := filepath.Join(t.TempDir(), "mailtls.service")
	os.WriteFile(svc, []byte(old), 0o644)
	p := filepath.Join(t.TempDir(), "mailtls.yaml")
	os.WriteFile(p, []byte("resolver:\n  servers: [\"127.0.0.1:53\"]\nlisten:\n  socketmap:\n    - unix: /var/lib/mailtls/socketmap.sock\n      owner: postfix\n      group: postfix\n"), 0o644)
	runSandbox(t, mailtls, unitexec, p, "-", "signal:bad system call", "-service", svc)
}
