package loadgen

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/socketmap"
)

// writeCounter counts the null server's writes.
type writeCounter struct {
	net.Conn
	writes atomic.Int64
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// The null server batches by socketmap.Server's rule: a batch of requests read at once is
// answered with one write, and a request cut in two does not hold back the replies to the
// whole ones before it. (net.Pipe: each server read returns exactly one client write.)
func TestNullServerBatching(t *testing.T) {
	const reply = "OK null"
	cc, sc := net.Pipe()
	counted := &writeCounter{Conn: sc}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveNullConn(counted, socketmap.AppendNetstring(nil, []byte(reply)))
	}()
	defer func() { cc.Close(); <-done }()
	r := socketmap.NewReader(cc, socketmap.DefaultMaxReply)
	expect := func(n int, what string) {
		t.Helper()
		cc.SetReadDeadline(time.Now().Add(2 * time.Second))
		for i := range n {
			p, err := r.Next()
			if err != nil || string(p) != reply {
				t.Fatalf("%s: reply %d = %q, %v", what, i, p, err)
			}
		}
	}
	req := string(socketmap.AppendNetstring(nil, []byte("postfix example.com")))
	for _, n := range []int{1, 16, 64} {
		before := counted.writes.Load()
		cc.Write([]byte(strings.Repeat(req, n)))
		expect(n, "batch")
		if w := counted.writes.Load() - before; w != 1 {
			t.Errorf("batch of %d: %d writes, want 1", n, w)
		}
	}
	// Three whole requests and the start of a fourth: three replies without further input.
	cc.Write([]byte(strings.Repeat(req, 3) + req[:5]))
	expect(3, "before the cut")
	cc.Write([]byte(req[5:]))
	expect(1, "after the cut")
}
