package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// inner runs in the new mount namespace, still as root: it applies the file-system
// settings, then hands over to setpriv for the user, capabilities and no_new_privs, which
// runs the seccomp stage, which runs the program.
func inner(args []string) error {
	fs := flag.NewFlagSet("inner", flag.ContinueOnError)
	service := fs.String("service", "", "the service unit")
	nfds := fs.Int("nfds", 0, "sockets passed as fds 3...")
	syscalls := fs.String("syscalls", "", "allowed system calls, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	svc, err := parseUnit(*service, nil)
	if err != nil {
		return err
	}
	if err := protect(svc); err != nil {
		return fmt.Errorf("file-system sandbox: %w", err)
	}
	if m := svc.last("UMask"); m != "" {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			return err
		}
		syscall.Umask(int(v))
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := []string{"setpriv",
		"--reuid=" + svc.last("User"), "--regid=" + orDefault(svc.last("Group"), svc.last("User")), "--init-groups"}
	if svc.last("CapabilityBoundingSet") == "" && len(svc["CapabilityBoundingSet"]) > 0 {
		argv = append(argv, "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all")
	}
	if svc.last("NoNewPrivileges") == "yes" {
		argv = append(argv, "--no-new-privs")
	}
	argv = append(argv, "--", self, "seccomp", "-nfds", strconv.Itoa(*nfds), "-syscalls", *syscalls,
		"-errno", svc.last("SystemCallErrorNumber"), "-families", strings.Join(svc.words("RestrictAddressFamilies"), ","), "--")
	argv = append(argv, fs.Args()...)
	return syscall.Exec(setpriv, argv, os.Environ())
}

// protect applies ProtectSystem=strict (every mount read-only but /dev, /proc, /sys and the
// unit's writable paths), PrivateTmp= (fresh /tmp and /var/tmp) and ProtectHome= (empty,
// read-only /home, /root and /run/user) to this mount namespace.
func protect(svc unit) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return err
	}
	rw := svc.rwPaths()
	for _, p := range rw {
		if err := syscall.Mount(p, p, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
	}
	if svc.last("ProtectSystem") == "strict" {
		mounts, err := mountPoints()
		if err != nil {
			return err
		}
		for _, m := range mounts {
			if slices.Contains(rw, m.path) || under(m.path, "/proc", "/sys", "/dev") {
				continue
			}
			flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY | m.flags)
			if err := syscall.Mount("", m.path, "", flags, ""); err != nil {
				return fmt.Errorf("read-only %s: %w", m.path, err)
			}
		}
	} else if v := svc.last("ProtectSystem"); v != "" {
		return fmt.Errorf("ProtectSystem=%s is not supported by this sandbox", v)
	}
	if svc.last("PrivateTmp") == "yes" {
		for _, d := range []string{"/tmp", "/var/tmp"} {
			if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
				return fmt.Errorf("PrivateTmp %s: %w", d, err)
			}
		}
	}
	if svc.last("ProtectHome") == "yes" {
		for _, d := range []string{"/home", "/root", "/run/user"} {
			if _, err := os.Stat(d); err != nil {
				continue
			}
			if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755"); err != nil {
				return fmt.Errorf("ProtectHome %s: %w", d, err)
			}
		}
	}
	return nil
}

type mountPoint struct {
	path  string
	flags uintptr // per-mount flags to keep when remounting
}

// mountPoints lists this namespace's reachable mounts from /proc/self/mountinfo, in mount
// order (parents first).
func mountPoints() ([]mountPoint, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountPoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		m := mountPoint{path: unescape(fields[4])}
		for _, o := range strings.Split(fields[5], ",") {
			switch o {
			case "nosuid":
				m.flags |= syscall.MS_NOSUID
			case "nodev":
				m.flags |= syscall.MS_NODEV
			case "noexec":
				m.flags |= syscall.MS_NOEXEC
			case "noatime":
				m.flags |= syscall.MS_NOATIME
			case "relatime":
				m.flags |= syscall.MS_RELATIME
			case "nodiratime":
				m.flags |= syscall.MS_NODIRATIME
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// A mount that a later one covers (mounted over it or over one of its parents, as the
	// test's overlays cover /var) is not reachable by its path: leave it out.
	var visible []mountPoint
	for i, m := range out {
		covered := false
		for _, later := range out[i+1:] {
			if under(m.path, later.path) || (later.path == "/" && m.path != "/") {
				covered = true
				break
			}
		}
		if !covered {
			visible = append(visible, m)
		}
	}
	return visible, nil
}

// unescape decodes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func under(p string, roots ...string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}
