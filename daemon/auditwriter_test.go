package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/policy"
)

// gateWriter is an io.Writer whose writes wait until the gate opens, as on a stalled disk.
type gateWriter struct {
	gate    chan struct{}
	started chan struct{} // receives once per write that has begun
	mu      sync.Mutex
	b       bytes.Buffer
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.started <- struct{}{}
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.Write(p)
}

func line(i int) []byte {
	return fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`+"\n", i, strings.Repeat("x", 200))
}

// While a write waits on a stalled disk, answers go on: lines wait in memory up to
// auditMaxPending, the next ones are refused with errAuditBacklog (counted by the caller);
// once the disk moves, close writes every line that was taken, in order.
func TestAuditWriterStalledDisk(t *testing.T) {
	g := &gateWriter{gate: make(chan struct{}), started: make(chan struct{}, 100)}
	w := &auditWriter{out: g, lost: func(n int, err error) { t.Errorf("%d lines lost: %v", n, err) }}
	var want bytes.Buffer
	i := 0
	for ; want.Len() < auditFlushSize; i++ { // the size bound starts a write, which stalls
		if err := w.add(line(i)); err != nil {
			t.Fatal(err)
		}
		want.Write(line(i))
	}
	<-g.started
	dropped := 0
	for ; dropped < 10; i++ {
		switch err := w.add(line(i)); err {
		case nil:
			want.Write(line(i))
		case errAuditBacklog:
			dropped++
		default:
			t.Fatal(err)
		}
	}
	if n := want.Len() - auditFlushSize; n > auditMaxPending+len(line(0)) {
		t.Errorf("%d bytes waiting, bound %d", n, auditMaxPending)
	}
	close(g.gate)
	w.close()
	if got := g.b.String(); got != want.String() {
		t.Errorf("written %d bytes, want %d (the lines taken, in order)", len(got), want.Len())
	}
	if err := w.add(line(0)); err != errAuditClosed {
		t.Errorf("add after close: %v", err)
	}
}

// failWriter writes n bytes of each write, then fails.
type failWriter struct{ n int }

func (f failWriter) Write(p []byte) (int, error) { return min(f.n, len(p)), errors.New("disk full") }

// A failed write reports every line it did not write whole.
func TestAuditWriterCountsLostLines(t *testing.T) {
	lost := 0
	w := &auditWriter{out: failWriter{n: len(line(0)) + 5}, lost: func(n int, err error) { lost += n }}
	for i := range 10 {
		if err := w.add(line(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.close()
	if lost != 9 {
		t.Errorf("%d lines counted lost, want 9", lost)
	}
}

// A line is written without close, after at most auditFlushDelay; close stops the timer
// and is idempotent. (The deadline only bounds a broken flush, it measures nothing.)
func TestAuditWriterTimerFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := openAuditFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 { // the timer is set again for each batch
		if err := a.w.add(line(round)); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			b, _ := os.ReadFile(path)
			if bytes.Count(b, []byte{'\n'}) == round+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %q not written", round, b)
			}
		}
	}
	a.close(nil)
	a.close(nil)
	if a.w.timer.Stop() {
		t.Error("timer still set after close")
	}
}

func openAuditFile(path string) (*auditLog, error) {
	return openAudit(config.Audit{File: path}, func(int, error) {})
}

// A line recorded after its log was replaced (reload) goes to the new log, encoded under
// the new log's settings; after the last close it is refused.
func TestAuditRecordAfterClose(t *testing.T) {
	dir := t.TempDir()
	oldPath, newPath := filepath.Join(dir, "old.log"), filepath.Join(dir, "new.log")
	old, err := openAuditFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := openAudit(config.Audit{File: newPath, HashDomains: true, HashKey: "0123456789abcdef-secret"}, func(int, error) {})
	if err != nil {
		t.Fatal(err)
	}
	d := &policy.Decision{Key: "a.example", Domain: "a.example", Profile: "postfix", Source: policy.SourceDefault}
	now := time.Now()
	if err := old.record(d, "NOTFOUND ", now, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	old.close(cur)
	if err := old.record(d, "NOTFOUND ", now, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	cur.close(nil)
	if err := cur.record(d, "NOTFOUND ", now, time.Millisecond); err != errAuditClosed {
		t.Errorf("record after the last close: %v", err)
	}
	o, _ := os.ReadFile(oldPath)
	n, _ := os.ReadFile(newPath)
	if bytes.Count(o, []byte{'\n'}) != 1 || !bytes.Contains(o, []byte(`"key":"a.example"`)) {
		t.Errorf("old log:\n%s", o)
	}
	if bytes.Count(n, []byte{'\n'}) != 1 || bytes.Contains(n, []byte("a.example")) || !bytes.Contains(n, []byte(`"hashed":true`)) {
		t.Errorf("new log (hashed):\n%s", n)
	}
}

// Many answers at once, across flushes by size and by timer: every line is written once,
// whole (run with -race).
func TestAuditWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := openAuditFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := a.w.add(line(w*each + i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	a.close(nil)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if seen[l] || !strings.HasPrefix(l, `{"n":`) || !strings.HasSuffix(l, `"}`) {
			t.Fatalf("line %.40q… twice or torn", l)
		}
		seen[l] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d lines, want %d", len(seen), workers*each)
	}
}
