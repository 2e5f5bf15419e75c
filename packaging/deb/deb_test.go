package deb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// baseRoot is the throwaway Debian bookworm root (minbase, plus what the maintainer
// scripts and the checks use: adduser, deb-systemd-helper, man) that make deps
// (scripts/install-test-deps.sh) makes once with mmdebstrap. The test only ever mounts it
// read-only as an overlay's lower layer, and never goes to the network itself.
const baseRoot = "/var/cache/mailtls-test/bookworm-minbase-adduser-init-system-helpers-man-db"

// buildDeb runs scripts/deb.sh (what make deb runs) for this machine's architecture.
func buildDeb(t *testing.T, out, version string) string {
	t.Helper()
	cmd := exec.Command("bash", "../../scripts/deb.sh")
	cmd.Env = append(os.Environ(), "OUT="+out, "ARCHES="+runtime.GOARCH, "VERSION="+version)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/deb.sh (VERSION=%s): %v\n%s", version, err, b)
	}
	deb := filepath.Join(out, fmt.Sprintf("mailtls_%s_%s.deb", version, runtime.GOARCH))
	if _, err := os.Stat(deb); err != nil {
		t.Fatal(err)
	}
	return deb
}

// Issue 14 item 1: the package built by make deb installs (user, directories, conffile,
// units enabled, manual pages; nothing started without systemd), upgrades keeping state
// and conffile edits, and is removed and purged cleanly, all by dpkg in an overlay of a
// throwaway Debian root inside private mount, PID and network namespaces: the machine
// running the test is not touched, and nothing can reach the network.
func TestPackageLifecycle(t *testing.T) {
	testenv.Root(t, "dpkg in a chroot, overlay mount, namespaces")
	testenv.LookPath(t, "unshare", "Debian package util-linux")
	testenv.LookPath(t, "dpkg-deb", "Debian package dpkg")
	base := baseRoot
	if _, err := os.Stat(filepath.Join(base, "usr/bin/dpkg")); err != nil {
		testenv.Missing(t, "the package test's Debian root "+base+" (make deps makes it)")
	}
	dir := t.TempDir()
	oldDeb := buildDeb(t, filepath.Join(dir, "old"), "1.0.0")
	newDeb := buildDeb(t, filepath.Join(dir, "new"), "1.0.1")

	hostBefore := hostState()
	work := filepath.Join(dir, "work")
	cmd := exec.Command("unshare", "--mount", "--pid", "--net", "--fork", "--kill-child",
		"bash", "testdata/lifecycle.sh", base, work, oldDeb, "1.0.0", newDeb, "1.0.1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("package lifecycle: %v", err)
	}
	if n := strings.Count(string(out), "ok: "); n < 15 {
		t.Errorf("only %d checks passed", n)
	}
	if after := hostState(); after != hostBefore {
		t.Errorf("the machine changed: before %q, after %q", hostBefore, after)
	}
	if _, err := os.Stat(filepath.Join(base, "usr/bin/mailtls")); err == nil {
		t.Error("the base root was changed (mailtls installed in it)")
	}
}

// hostState describes what installing the package would change on this machine.
func hostState() string {
	var b strings.Builder
	for _, p := range []string{"/usr/bin/mailtls", "/etc/mailtls", "/var/lib/mailtls", "/var/log/mailtls",
		"/lib/systemd/system/mailtls.service", "/etc/systemd/system/multi-user.target.wants/mailtls.service"} {
		_, err := os.Lstat(p)
		fmt.Fprintf(&b, "%s:%v ", p, err == nil)
	}
	out, _ := exec.Command("getent", "passwd", "mailtls").Output()
	b.Write(out)
	return b.String()
}

// The maintainer scripts name only mailtls's own units when they enable, start, stop or
// mask: installing mailtls never touches another service.
func TestMaintainerScriptsTouchOnlyMailtls(t *testing.T) {
	for _, f := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, line := range strings.Split(string(b), "\n") {
			code, _, _ := strings.Cut(line, "#")
			fields := strings.Fields(code)
			if len(fields) == 0 || (fields[0] != "deb-systemd-invoke" && fields[0] != "deb-systemd-helper" && fields[0] != "systemctl") {
				continue
			}
			n++
			for _, w := range fields[1:] {
				if strings.Contains(w, ".service") || strings.Contains(w, ".socket") || strings.Contains(w, ".target") {
					if w != "mailtls.service" && w != "mailtls.socket" {
						t.Errorf("%s:%d names %s", f, i+1, w)
					}
				}
			}
			if fields[0] == "systemctl" && !strings.Contains(code, "daemon-reload") {
				t.Errorf("%s:%d: systemctl other than daemon-reload (use deb-systemd-invoke, which honours policy-rc.d)", f, i+1)
			}
		}
		if n == 0 {
			t.Errorf("%s calls no unit helper at all", f)
		}
	}
}
