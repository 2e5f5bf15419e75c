package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postfix is one Postfix instance with its own configuration, queue, data directory and
// log file (postfix -c DIR).
type postfix struct {
	name    string
	ns      *netns
	bin     *binaries
	conf    string // config_directory
	queue   string // queue_directory
	maillog string
}

// masterCF is the master.cf a fresh Debian Postfix ships with.
func masterCF(t *testing.T) []byte {
	t.Helper()
	for _, p := range []string{"/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf.proto", "/etc/postfix/master.cf"} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	t.Fatal("no master.cf template (Debian package postfix)")
	return nil
}

// newPostfix writes an instance under w.dir/name with the base settings every instance
// needs plus settings (and services appended to master.cf), and starts it. Every service runs unchrooted, so smtp(8) reads the
// namespace's resolv.conf and reaches the socketmap on loopback.
func (w *world) newPostfix(t *testing.T, name string, settings []string, services ...string) *postfix {
	t.Helper()
	root := filepath.Join(w.dir, name)
	p := &postfix{name: name, ns: w.ns, bin: &w.bin,
		conf: filepath.Join(root, "etc"), queue: filepath.Join(root, "spool"),
		maillog: filepath.Join(w.logs, name+".maillog")}
	for _, d := range []string{p.conf, p.queue, filepath.Join(root, "data")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	// The data directory (master.lock, TLS caches) belongs to mail_owner.
	owner, err := user.Lookup("postfix")
	must(t, err)
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	must(t, os.Chown(filepath.Join(root, "data"), uid, gid))
	base := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + p.queue,
		"data_directory = " + filepath.Join(root, "data"),
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"syslog_name = postfix-e2e-" + name,
		"maillog_file = " + p.maillog,
		"maillog_file_prefixes = " + w.logs,
		"inet_protocols = ipv4",
		"mydestination =",
		"relay_domains =",
		"alias_maps =",
		"alias_database =",
		"smtpd_peername_lookup = no",
		"biff = no",
	}
	main := strings.Join(append(base, settings...), "\n") + "\n"
	must(t, os.WriteFile(filepath.Join(p.conf, "main.cf"), []byte(main), 0o644))
	master := append(masterCF(t), []byte(strings.Join(services, "\n")+"\n")...)
	must(t, os.WriteFile(filepath.Join(p.conf, "master.cf"), master, 0o644))
	p.postconf(t, "-F", "*/*/chroot = n")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(p.maillog)
			t.Logf("%s maillog:\n%s", name, b)
		}
		p.stop(t)
	})
	// postfix(1) prints its errors only to a terminal (else to syslog): give it one.
	if out, err := p.ns.output("script", "-qec", p.bin.postfix+" -c "+p.conf+" start", "/dev/null"); err != nil {
		t.Fatalf("postfix %s start: %v\n%s", name, err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !p.ready() {
		if time.Now().After(deadline) {
			t.Fatalf("postfix %s did not start", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// stop stops the instance and waits (bounded) until its master process is gone, so no
// Postfix process outlives the test; the namespace cleanup kills what remains.
func (p *postfix) stop(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(p.queue, "pid", "master.pid"))
	if err != nil {
		return // never started
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Errorf("%s: master.pid: %v", p.name, err)
		return
	}
	if _, err := p.ns.output(p.bin.postfix, "-c", p.conf, "stop"); err != nil {
		t.Logf("%s: %v", p.name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			t.Logf("%s: master %d still running after stop, killing it", p.name, pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready reports whether the master runs and its queue manager answers.
func (p *postfix) ready() bool {
	_, err := os.Stat(filepath.Join(p.queue, "public", "qmgr"))
	if err != nil {
		return false
	}
	_, err = p.ns.output(p.bin.postfix, "-c", p.conf, "status")
	return err == nil
}

func (p *postfix) postconf(t *testing.T, args ...string) {
	t.Helper()
	p.ns.run(t, p.bin.postconf, append([]string{"-c", p.conf}, args...)...)
}

func (p *postfix) postfixCmd(t *testing.T, args ...string) {
	t.Helper()
	p.ns.run(t, p.bin.postfix, append([]string{"-c", p.conf}, args...)...)
}

// flush asks the queue manager to retry every queued message now (postqueue -f).
func (p *postfix) flush(t *testing.T) {
	t.Helper()
	p.ns.run(t, p.bin.postqueue, "-c", p.conf, "-f")
}

// queued is one message of postqueue -j.
type queued struct {
	QueueName  string `json:"queue_name"`
	QueueID    string `json:"queue_id"`
	Recipients []struct {
		Address     string `json:"address"`
		DelayReason string `json:"delay_reason"`
	} `json:"recipients"`
}

// inQueue returns message id from the queue listing, or nil when it is not queued.
func (p *postfix) inQueue(t *testing.T, id string) *queued {
	t.Helper()
	for _, q := range p.listQueue(t) {
		if q.QueueID == id {
			return &q
		}
	}
	return nil
}

// listQueue lists every queued message (postqueue -j).
func (p *postfix) listQueue(t *testing.T) []queued {
	t.Helper()
	out := p.ns.run(t, p.bin.postqueue, "-c", p.conf, "-j")
	var qs []queued
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var q queued
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("postqueue -j: %v: %s", err, line)
		}
		qs = append(qs, q)
	}
	return qs
}

// waitQueue waits (bounded) until done holds for the queue listing.
func (p *postfix) waitQueue(t *testing.T, what string, done func([]queued) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		qs := p.listQueue(t)
		if done(qs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still waiting after 30 s for %s; queue: %+v", p.name, what, qs)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// logSize is the current end of the maillog, a mark for waiting on what comes after.
func (p *postfix) logSize() int64 {
	st, err := os.Stat(p.maillog)
	if err != nil {
		return 0
	}
	return st.Size()
}

// readLog returns the maillog from offset on.
func (p *postfix) readLog(from int64) (string, error) {
	b, err := os.ReadFile(p.maillog)
	if err != nil {
		return "", err
	}
	if from > int64(len(b)) {
		return "", fmt.Errorf("maillog shrank below %d", from)
	}
	return string(b[from:]), nil
}
