package scripts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stubs makes a directory of stand-ins for the commands install-test-deps.sh may call:
// apt-get records its arguments and asks the policy-rc.d in force whether a service may
// start (as a package's maintainer script does); every command that stops, starts,
// enables or disables a service records that it was called.
func stubs(t *testing.T, aptExit int) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "bin")
	log = filepath.Join(dir, "calls.log")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("id", `[ "$1" = -u ] && echo 0 || /usr/bin/id "$@"`+"\n")
	write("debconf-set-selections", "cat >/dev/null\n")
	write("apt-get", `echo "apt-get $*" >>`+log+`
case "$1" in install)
  "$MAILTLS_POLICY_RC_D" unbound start; echo "policy-rc.d unbound start: $?" >>`+log+`
  exit `+string(rune('0'+aptExit))+`
esac
`)
	for _, svc := range []string{"systemctl", "service", "invoke-rc.d", "deb-systemd-invoke", "update-rc.d", "deb-systemd-helper"} {
		write(svc, `echo "SERVICE COMMAND `+svc+` $*" >>`+log+"\n")
	}
	return bin, log
}

func runDeps(t *testing.T, bin, prc string, pkgs ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"install-test-deps.sh"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "MAILTLS_POLICY_RC_D="+prc)
	return cmd.CombinedOutput()
}

// Item 5 of issue 14: installing test dependencies forbids service starts while apt-get
// runs, never calls a service manager, and leaves the machine's policy-rc.d exactly as
// it was (present with its contents and mode, or absent), also when apt-get fails.
func TestInstallDepsNeverTouchesServices(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing string // "" = no policy-rc.d before
		aptExit  int
	}{
		{"no policy before", "", 0},
		{"machine's own policy kept", "#!/bin/sh\n# the machine's own\nexit 0\n", 0},
		{"apt-get fails", "#!/bin/sh\nexit 104\n", 1},
		{"apt-get fails, no policy before", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, log := stubs(t, tc.aptExit)
			prc := filepath.Join(t.TempDir(), "policy-rc.d")
			if tc.existing != "" {
				if err := os.WriteFile(prc, []byte(tc.existing), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			out, err := runDeps(t, bin, prc, "unbound", "knot")
			if (err != nil) != (tc.aptExit != 0) {
				t.Fatalf("exit: %v (apt-get exit %d)\n%s", err, tc.aptExit, out)
			}
			calls, _ := os.ReadFile(log)
			if !bytes.Contains(calls, []byte("apt-get install -y -qq --no-install-recommends unbound knot")) {
				t.Errorf("apt-get not asked for the named packages:\n%s", calls)
			}
			if !bytes.Contains(calls, []byte("policy-rc.d unbound start: 101")) {
				t.Errorf("during the install, policy-rc.d did not forbid the start (want 101):\n%s", calls)
			}
			if bytes.Contains(calls, []byte("SERVICE COMMAND")) {
				t.Errorf("a service manager was called:\n%s", calls)
			}
			got, err := os.ReadFile(prc)
			switch {
			case tc.existing == "" && !os.IsNotExist(err):
				t.Errorf("policy-rc.d left behind (err %v): %q", err, got)
			case tc.existing != "":
				fi, serr := os.Stat(prc)
				if err != nil || string(got) != tc.existing || serr != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("the machine's policy-rc.d not restored: %q (%v)", got, err)
				}
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(prc), ".policy-rc.d.mailtls-saved.*"))
			if len(left) > 0 {
				t.Errorf("saved copies left behind: %v", left)
			}
		})
	}
}

// serviceCmdRE matches a service manager called as a command (not "mailtls.service").
var serviceCmdRE = regexp.MustCompile(`(?:^|[\s;&|(])(?:systemctl|service|invoke-rc\.d|deb-systemd-invoke)\s+\S`)

// No script of the test command or of the comparison stops, restarts, enables or
// disables a service of the machine.
func TestScriptsCallNoServiceManager(t *testing.T) {
	files, _ := filepath.Glob("*.sh")
	if len(files) == 0 {
		t.Fatal("no scripts found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			code, _, _ := strings.Cut(line, "#")
			if serviceCmdRE.MatchString(code) {
				t.Errorf("%s:%d calls a service manager: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
