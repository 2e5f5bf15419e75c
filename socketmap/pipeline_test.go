package socketmap

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countConn counts the reads that returned data and the writes a server makes on a
// connection: with pipelining, one batch of requests read should cost one write.
type countConn struct {
	net.Conn
	reads, writes atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// pipeListener hands the server the far ends of in-memory net.Pipe connections. A pipe
// write returns only once the reader has taken all of it, and each read returns at most one
// write's bytes, so the test decides exactly what the server finds buffered.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// servePipe serves s on a pipe listener; dial returns a client and the server's end,
// which counts its reads and writes.
func servePipe(t *testing.T, s *Server) (dial func() (*client, *countConn)) {
	t.Helper()
	ln := newPipeListener()
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return func() (*client, *countConn) {
		cc, sc := net.Pipe()
		counted := &countConn{Conn: sc}
		select {
		case ln.conns <- counted:
		case <-time.After(5 * time.Second):
			t.Fatal("server did not accept")
		}
		t.Cleanup(func() { cc.Close() })
		return &client{t: t, c: cc, r: NewReader(cc, DefaultMaxReply)}, counted
	}
}

func requests(payloads ...string) string {
	var b []byte
	for _, p := range payloads {
		b = AppendNetstring(b, []byte(p))
	}
	return string(b)
}

// Many requests in one write are answered in order with one write; so is every later
// batch: batching cannot regress to a write per reply unnoticed.
func TestPipelinedBatchOneWrite(t *testing.T) {
	dial := servePipe(t, &Server{Handler: echo})
	cl, sc := dial()
	for batch, n := range []int{1, 2, 16, 64, 100} {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("m b%d-k%d", batch, i))
		}
		writesBefore := sc.writes.Load()
		cl.send(requests(keys...))
		for i, k := range keys {
			want := "OK m|" + strings.TrimPrefix(k, "m ")
			if got := cl.reply(); got != want {
				t.Fatalf("batch of %d, reply %d = %q, want %q", n, i, got, want)
			}
		}
		if w := sc.writes.Load() - writesBefore; w != 1 {
			t.Errorf("batch of %d requests read at once: %d writes, want 1", n, w)
		}
	}
	if r, w := sc.reads.Load(), sc.writes.Load(); w != r {
		t.Errorf("%d reads, %d writes: want one write per batch read", r, w)
	}
}

// Replies of one batch beyond the reply buffer go out in as few writes as the buffer
// allows, each of whole replies.
func TestPipelinedLargeBatchWrites(t *testing.T) {
	long := HandlerFunc(func(_ context.Context, _, key string) string { return "OK " + strings.Repeat(key, 8) })
	dial := servePipe(t, &Server{Handler: long})
	cl, sc := dial()
	var keys []string
	total := 0
	for i := range 150 {
		k := fmt.Sprintf("key-%03d", i)
		keys = append(keys, "m "+k)
		total += len(AppendNetstring(nil, []byte("OK "+strings.Repeat(k, 8))))
	}
	raw := requests(keys...)
	if len(raw) > readerBufSize || total < 2*replyBufSize {
		t.Fatalf("test batch: %d bytes of requests, %d of replies", len(raw), total)
	}
	cl.send(raw)
	for i, k := range keys {
		if got, want := cl.reply(), "OK "+strings.Repeat(k[2:], 8); got != want {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
	}
	maxWrites := int64(total/(replyBufSize-100) + 1)
	if w := sc.writes.Load(); w > maxWrites {
		t.Errorf("%d bytes of replies took %d writes, want at most %d", total, w, maxWrites)
	}
}

// A stream of requests cut at every byte boundary: the replies to the requests complete in
// the first part arrive without any further input (never held for the next request), the
// rest once it is sent, all in order.
func TestPipelinedSplitEveryBoundary(t *testing.T) {
	payloads := []string{"m a", "m bb", "m ccc key with spaces", "m d"}
	raw := requests(payloads...)
	ends := []int{} // offset just past each request
	off := 0
	for _, p := range payloads {
		off += len(AppendNetstring(nil, []byte(p)))
		ends = append(ends, off)
	}
	dial := servePipe(t, &Server{Handler: echo})
	for cut := 1; cut < len(raw); cut++ {
		cl, _ := dial()
		cl.send(raw[:cut])
		got := 0
		for got < len(ends) && ends[got] <= cut {
			p, err := cl.next(2 * time.Second)
			if want := "OK m|" + payloads[got][2:]; err != nil || p != want {
				t.Fatalf("cut at %d: reply %d = %q, %v before the rest was sent; want %q", cut, got, p, err, want)
			}
			got++
		}
		cl.send(raw[cut:])
		for ; got < len(payloads); got++ {
			if p, want := cl.reply(), "OK m|"+payloads[got][2:]; p != want {
				t.Fatalf("cut at %d: reply %d = %q, want %q", cut, got, p, want)
			}
		}
		cl.c.Close()
	}
}

// Pipelined behind a cold lookup: the replies before it are not held until it ends (its
// Handler calls Flush before it waits), the replies stay in request order, and a malformed
// request after them is answered PERM in its turn before the connection closes.
func TestPipelinedMixedColdMalformed(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := HandlerFunc(func(ctx context.Context, name, key string) string {
		if key == "cold" {
			Flush(ctx)
			started <- struct{}{}
			<-release
		}
		return echo(ctx, name, key)
	})
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: h}, network)
		cl := dial(t, addr)
		cl.send(requests("m hot1", "m hot2", "m cold", "m hot3", "noname") + "3:abc;")
		for _, want := range []string{"OK m|hot1", "OK m|hot2"} {
			p, err := cl.next(2 * time.Second)
			if err != nil || p != want {
				t.Fatalf("reply before the cold lookup = %q, %v; want %q while that lookup runs", p, err, want)
			}
		}
		<-started
		close(release)
		for _, want := range []string{"OK m|cold", "OK m|hot3", replyNoSpace, replyMalformed} {
			if got := cl.reply(); got != want {
				t.Fatalf("reply %q, want %q", got, want)
			}
		}
		cl.expectClosed(2 * time.Second)
		release = make(chan struct{})
	})
}

// Many requests in one write over real sockets, more than the read buffer holds, so that
// requests straddle reads: every reply, in order.
func TestPipelinedManyOverSockets(t *testing.T) {
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo}, network)
		cl := dial(t, addr)
		var keys []string
		for i := range 2000 {
			keys = append(keys, fmt.Sprintf("m domain%d.example", i))
		}
		go cl.c.Write([]byte(requests(keys...))) // the replies are read meanwhile
		for i, k := range keys {
			if got, want := cl.reply(), "OK m|"+k[2:]; got != want {
				t.Fatalf("reply %d = %q, want %q", i, got, want)
			}
		}
	})
}

// The read and write deadlines are set again only when needed; they still follow the
// activity: a connection busy for longer than IdleTimeout, with requests spaced below it,
// stays open and is answered, then closes IdleTimeout after its last reply (no sooner
// than IdleTimeout after the last request).
func TestDeadlinesFollowActivity(t *testing.T) {
	const idle = 300 * time.Millisecond
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo, IdleTimeout: idle}, network)
		cl := dial(t, addr)
		start := time.Now()
		// The server's idle clock starts after it wrote its reply, which may be before
		// the client reads its own clock on receiving it: the lower bound is the moment
		// the last request was sent, which the server's clock cannot precede.
		var lastSent time.Time
		for i := 0; time.Since(start) < 3*idle; i++ {
			want := fmt.Sprintf("OK m|k%d", i)
			lastSent = time.Now()
			if got := cl.roundTrip(fmt.Sprintf("m k%d", i)); got != want {
				t.Fatalf("after %v: %q, want %q", time.Since(start), got, want)
			}
			time.Sleep(idle / 3)
		}
		cl.expectClosed(idle + 2*time.Second)
		if el := time.Since(lastSent); el < idle {
			t.Fatalf("closed %v after the last request, before the idle timeout %v", el, idle)
		}
	})
}

// A client that sends requests and never reads: once its socket buffers are full, the
// server's write is bounded by IdleTimeout and the connection is closed.
func TestWriteBoundedByIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	big := strings.Repeat("x", DefaultMaxReply-10)
	h := HandlerFunc(func(context.Context, string, string) string { return "OK " + big })
	forEachNetwork(t, func(t *testing.T, network string) {
		s := &Server{Handler: h, IdleTimeout: idle}
		addr := startServer(t, s, network)
		cl := dial(t, addr)
		var keys []string
		for i := range 500 { // 50 MB of replies: more than any socket buffers
			keys = append(keys, fmt.Sprintf("m %d", i))
		}
		cl.send(requests(keys...))
		deadline := time.Now().Add(idle + 5*time.Second)
		for {
			s.mu.Lock()
			n := len(s.conns)
			s.mu.Unlock()
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection still open: the blocked write is not bounded")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Lookups that call Flush, pipelined, some of them slow: the batch is written at each
// Flush and every reply still arrives once, in order, with no more writes than flushes
// and batches (run with -race: the Handler writes from the connection's goroutine only).
func TestPipelinedFlushInLookup(t *testing.T) {
	var flushes atomic.Int64
	h := HandlerFunc(func(ctx context.Context, name, key string) string {
		var i int
		fmt.Sscanf(key, "k%d", &i)
		if i%3 == 0 {
			flushes.Add(1)
			Flush(ctx)
			time.Sleep(time.Duration(i%7) * 100 * time.Microsecond)
		}
		return echo(ctx, name, key)
	})
	dial := servePipe(t, &Server{Handler: h})
	cl, sc := dial()
	for round := range 3 {
		var keys []string
		for i := range 100 {
			keys = append(keys, fmt.Sprintf("m k%d", round*100+i))
		}
		cl.send(requests(keys...))
		for i, k := range keys {
			if got, want := cl.reply(), "OK m|"+k[2:]; got != want {
				t.Fatalf("round %d reply %d = %q, want %q", round, i, got, want)
			}
		}
	}
	// Every Flush writes the replies before it, except the very first (k0: nothing is
	// buffered yet), and each batch read ends with one write of what followed its last
	// Flush (every batch ends with replies after a Flush).
	if w, want := sc.writes.Load(), flushes.Load()-1+sc.reads.Load(); w != want {
		t.Errorf("%d writes for %d flushes and %d reads, want %d", w, flushes.Load(), sc.reads.Load(), want)
	}
}

// Flush with a context that is not a lookup's does nothing, and a Handler that does not
// call it still gets its replies written, after its lookup (nothing else writes them).
func TestFlushOutsideLookup(t *testing.T) {
	Flush(context.Background()) // no connection: nothing to write, no panic
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, name, key string) string {
		if key == "slow" {
			<-release
		}
		return echo(ctx, name, key)
	})
	dial := servePipe(t, &Server{Handler: h})
	cl, _ := dial()
	cl.send(requests("m a", "m slow"))
	if p, err := cl.next(100 * time.Millisecond); err == nil {
		t.Fatalf("reply %q written while the lookup behind it ran without Flush", p)
	}
	close(release)
	for _, want := range []string{"OK m|a", "OK m|slow"} {
		if got := cl.reply(); got != want {
			t.Fatalf("reply %q, want %q", got, want)
		}
	}
}
