package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// proc is a server running in the foreground inside the namespace, its output in a log
// file.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs bin in the namespace until stop or the end of the suite's test (not of the
// scenario that started it: mailtls restarted by one scenario serves the next).
func (n *netns) start(t *testing.T, name, logDir, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(logDir, name+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(t, err)
	p.cmd = n.command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	n.atEnd(p.stop)
	return p
}

// logSize is the current end of the process's log, a mark for what comes after.
func (p *proc) logSize() int64 {
	st, err := os.Stat(p.log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logSince returns the process's log from mark on.
func (p *proc) logSince(mark int64) string {
	b, err := os.ReadFile(p.log)
	if err != nil || mark > int64(len(b)) {
		return ""
	}
	return string(b[mark:])
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to 5 s, then kills. It is idempotent.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
