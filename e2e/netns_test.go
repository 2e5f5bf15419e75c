package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nsPrefix names the suite's namespaces; the suffix is the test process's pid, so a
// later run can tell a crashed run's namespace from a running one.
const nsPrefix = "mailtls-e2e-"

// netns is the suite's network namespace. Its loopback carries all of 127.0.0.0/8, so
// every host of the topology gets an address of its own. Processes started with
// netns.command see /etc/netns/<name>/resolv.conf as /etc/resolv.conf (ip-netns(8)).
type netns struct {
	name string
	ip   string // path of ip(8)
	// atEnd registers a function to run when the whole suite's test ends (its Cleanup):
	// processes started in the namespace live until then, whichever scenario started them.
	atEnd func(func())
}

// newNetns removes what crashed earlier runs left, creates the namespace and its
// resolv.conf, and arranges that every process in it is killed and the namespace and
// its /etc/netns directory removed when the test ends, failed or not.
func newNetns(t *testing.T, ipBin string) *netns {
	t.Helper()
	removeLeftovers(t, ipBin)
	n := &netns{name: nsPrefix + strconv.Itoa(os.Getpid()), ip: ipBin, atEnd: t.Cleanup}
	if out, err := exec.Command(ipBin, "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", n.name, err, out)
	}
	t.Cleanup(func() { n.destroy(t) })
	etc := n.etcDir()
	must(t, os.MkdirAll(etc, 0o755))
	// glibc passes the resolver's AD bit to Postfix only with trust-ad; Postfix needs it
	// for DANE (smtp_dns_support_level = dnssec).
	must(t, os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\noptions edns0 trust-ad\n"), 0o644))
	n.run(t, ipBin, "link", "set", "lo", "up")
	return n
}

// addAddrs assigns host addresses to lo. The whole of 127.0.0.0/8 is routed to lo already,
// but Postfix's inet_interfaces accepts only addresses an interface really has.
func (n *netns) addAddrs(t testing.TB, ips ...string) {
	t.Helper()
	for _, ip := range ips {
		n.run(t, n.ip, "addr", "add", ip+"/32", "dev", "lo")
	}
}

func (n *netns) etcDir() string { return filepath.Join("/etc/netns", n.name) }

// command prepares bin to run inside the namespace (ip netns exec execs it, so the
// process id is bin's own).
func (n *netns) command(bin string, args ...string) *exec.Cmd {
	return exec.Command(n.ip, append([]string{"netns", "exec", n.name, bin}, args...)...)
}

// output runs bin in the namespace and returns its standard output; stderr goes into
// the error.
func (n *netns) output(bin string, args ...string) (string, error) {
	cmd := n.command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// run is output that fails the test on error.
func (n *netns) run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, err := n.output(bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// destroy kills every process still in the namespace, deletes it and its /etc/netns
// directory.
func (n *netns) destroy(t testing.TB) {
	if err := killNamespace(n.ip, n.name); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if out, err := exec.Command(n.ip, "netns", "del", n.name).CombinedOutput(); err != nil {
		t.Errorf("cleanup: ip netns del %s: %v\n%s", n.name, err, out)
	}
	if err := os.RemoveAll(n.etcDir()); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// killNamespace kills the processes in namespace name until none is left (bounded).
func killNamespace(ipBin, name string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command(ipBin, "netns", "pids", name).Output()
		if err != nil {
			return fmt.Errorf("ip netns pids %s: %w", name, err)
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in %s survive SIGKILL", pids, name)
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeLeftovers deletes the namespaces of earlier runs whose test process is gone
// (a crash or a kill -9 skips t.Cleanup), with the processes they started.
func removeLeftovers(t testing.TB, ipBin string) {
	t.Helper()
	out, err := exec.Command(ipBin, "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], nsPrefix) {
			continue
		}
		name := fields[0]
		pid, err := strconv.Atoi(strings.TrimPrefix(name, nsPrefix))
		if err != nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // a run that is still alive, or not ours
		}
		t.Logf("removing namespace %s left by a crashed run", name)
		if err := killNamespace(ipBin, name); err != nil {
			t.Logf("leftover %s: %v", name, err)
		}
		exec.Command(ipBin, "netns", "del", name).Run()
		os.RemoveAll(filepath.Join("/etc/netns", name))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
