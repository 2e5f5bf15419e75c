package daemon

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// Issue 11: the metrics listener holds at most MaxConns connections (a further one waits
// in the listen queue, unserved, until one is closed) and closes a connection that sends
// no request within ReadHeaderTimeout or sits idle after a response for IdleTimeout.
func TestHTTPListenerLimits(t *testing.T) {
	lim := httpLimits{MaxConns: 2, ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: time.Second,
		WriteTimeout: time.Second, IdleTimeout: 300 * time.Millisecond}
	ln, srv, err := listenHTTP("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}), lim, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn, wait time.Duration) error {
		c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	closedWithin := func(c net.Conn, wait time.Duration) (time.Duration, bool) {
		start := time.Now()
		c.SetReadDeadline(start.Add(wait))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return time.Since(start), err != nil && !(errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, syscall.ECONNRESET)
	}

	silent := dial() // sends nothing
	idle := dial()   // one request, then idle
	if err := get(idle, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	third := dial() // over the cap: queued, not served while the two are held
	if err := get(third, 100*time.Millisecond); err == nil {
		t.Fatal("a third connection was served while MaxConns=2 were held")
	}
	if el, ok := closedWithin(silent, 3*time.Second); !ok || el > 2*time.Second {
		t.Fatalf("a connection sending no request was not closed (waited %v)", el)
	}
	if el, ok := closedWithin(idle, 3*time.Second); !ok || el > 2*time.Second {
		t.Fatalf("an idle keep-alive connection was not closed (waited %v)", el)
	}
	fourth := dial() // the held connections are gone: served
	if err := get(fourth, 2*time.Second); err != nil {
		t.Fatalf("after the held connections closed: %v", err)
	}
}

// Issue 11: the daemon raises its soft open-file limit to the hard limit.
func TestRaiseFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	// The Go runtime raised it already at start: lower it, as a service manager might.
	if low := uint64(openFiles() + 512); low < rl.Max {
		lowered := syscall.Rlimit{Cur: low, Max: rl.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) })
	}
	got, err := raiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if got != rl.Max {
		t.Fatalf("limit %d, want the hard limit %d", got, rl.Max)
	}
	if openFiles() <= 0 {
		t.Error("openFiles found no open descriptor")
	}
}
