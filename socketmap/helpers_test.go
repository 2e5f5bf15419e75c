package socketmap

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// echo answers "OK <name>|<key>", so tests can see how a request was split.
var echo = HandlerFunc(func(_ context.Context, name, key string) string {
	return "OK " + name + "|" + key
})

// listenLoopback opens a loopback TCP listener or a Unix socket in t.TempDir().
func listenLoopback(t testing.TB, network string) net.Listener {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	switch network {
	case "tcp":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	case "unix":
		ln, err = ListenUnix(filepath.Join(t.TempDir(), "sm.sock"), "", "", 0o600)
	default:
		t.Fatalf("unknown network %q", network)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startServer serves s on a fresh listener; at cleanup it shuts s down and checks that Serve
// returned ErrServerClosed.
func startServer(t testing.TB, s *Server, network string) net.Addr {
	t.Helper()
	ln := listenLoopback(t, network)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return ln.Addr()
}

// client is a test socketmap client, like Postfix's dict_socketmap.
type client struct {
	t  testing.TB
	c  net.Conn
	r  *Reader
	wb []byte
}

func dial(t testing.TB, addr net.Addr) *client {
	t.Helper()
	c, err := net.DialTimeout(addr.Network(), addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: NewReader(c, DefaultMaxReply)}
}

// send writes raw bytes.
func (cl *client) send(raw string) {
	cl.t.Helper()
	_ = cl.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := cl.c.Write([]byte(raw)); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

// request writes one netstring-framed request.
func (cl *client) request(payload string) {
	cl.t.Helper()
	cl.wb = AppendNetstring(cl.wb[:0], []byte(payload))
	cl.send(string(cl.wb))
}

// reply reads one reply (bounded wait) and returns it, or fails the test.
func (cl *client) reply() string {
	cl.t.Helper()
	p, err := cl.next(5 * time.Second)
	if err != nil {
		cl.t.Fatalf("reading reply: %v", err)
	}
	return p
}

func (cl *client) next(wait time.Duration) (string, error) {
	_ = cl.c.SetReadDeadline(time.Now().Add(wait))
	p, err := cl.r.Next()
	return string(p), err
}

// roundTrip sends a request and returns its reply.
func (cl *client) roundTrip(payload string) string {
	cl.t.Helper()
	cl.request(payload)
	return cl.reply()
}

// expectClosed asserts the server closes the connection (EOF or reset) within wait.
func (cl *client) expectClosed(wait time.Duration) {
	cl.t.Helper()
	p, err := cl.next(wait)
	var ne net.Error
	switch {
	case err == nil:
		cl.t.Fatalf("got reply %q, want the connection closed", p)
	case errors.As(err, &ne) && ne.Timeout():
		cl.t.Fatalf("connection still open after %v", wait)
	}
}

var networks = []string{"tcp", "unix"}

func forEachNetwork(t *testing.T, f func(t *testing.T, network string)) {
	for _, n := range networks {
		t.Run(n, func(t *testing.T) { f(t, n) })
	}
}

func isPrefix(s, p string) bool { return strings.HasPrefix(s, p) }
