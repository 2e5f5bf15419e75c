package socketmap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// serveAsync starts Serve on ln and returns a channel with its result.
func serveAsync(s *Server, ln net.Listener) <-chan error {
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	return served
}

func waitServe(t *testing.T, served <-chan error) {
	t.Helper()
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}

// TestShutdownDrainsInFlight: Shutdown closes idle connections at once, refuses new ones,
// waits for an in-flight request whose reply is still written, and only then returns; Serve
// returns ErrServerClosed.
func TestShutdownDrainsInFlight(t *testing.T) {
	forEachNetwork(t, func(t *testing.T, network string) {
		entered, release := make(chan struct{}), make(chan struct{})
		h := HandlerFunc(func(ctx context.Context, name, key string) string {
			if key == "slow" {
				close(entered)
				<-release
			}
			return echo(ctx, name, key)
		})
		s := &Server{Handler: h}
		ln := listenLoopback(t, network)
		addr := ln.Addr()
		served := serveAsync(s, ln)

		idle := dial(t, addr)
		if got := idle.roundTrip("m warm"); got != "OK m|warm" {
			t.Fatalf("idle conn warm-up: %q", got)
		}
		busy := dial(t, addr)
		busy.request("m slow")
		<-entered

		shutdownErr := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			shutdownErr <- s.Shutdown(ctx)
		}()

		idle.expectClosed(5 * time.Second)
		if c, err := net.DialTimeout(addr.Network(), addr.String(), time.Second); err == nil {
			nc := &client{t: t, c: c, r: NewReader(c, DefaultMaxReply)}
			nc.request("m late")
			nc.expectClosed(5 * time.Second)
			c.Close()
		}
		select {
		case err := <-shutdownErr:
			t.Fatalf("Shutdown returned %v while a request was in flight", err)
		default:
		}

		close(release)
		if got := busy.reply(); got != "OK m|slow" {
			t.Fatalf("in-flight reply %q, want it delivered during shutdown", got)
		}
		busy.expectClosed(5 * time.Second)
		select {
		case err := <-shutdownErr:
			if err != nil {
				t.Fatalf("Shutdown = %v, want nil after draining", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Shutdown did not return after the last connection finished")
		}
		waitServe(t, served)
	})
}

// TestShutdownDeadline: when ctx ends before the handlers do, Shutdown closes the remaining
// connections, cancels the handlers' contexts and returns ctx.Err() (bounded wait).
func TestShutdownDeadline(t *testing.T) {
	entered, cancelled := make(chan struct{}), make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, _, _ string) string {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return "TEMP shutting down"
	})
	s := &Server{Handler: h, RequestTimeout: time.Hour}
	ln := listenLoopback(t, "tcp")
	served := serveAsync(s, ln)
	cl := dial(t, ln.Addr())
	cl.request("m stuck")
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Shutdown took %v with a 100ms context", el)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled after the Shutdown deadline")
	}
	cl.expectClosed(5 * time.Second)
	waitServe(t, served)
}

// TestServeAfterShutdown: a Server, once shut down, refuses to serve and closes the listener.
func TestServeAfterShutdown(t *testing.T) {
	s := &Server{Handler: echo}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown of an idle server: %v", err)
	}
	ln := listenLoopback(t, "tcp")
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener still open after Serve returned: %v", err)
	}
}

// TestServeSeveralListeners: one Server serves TCP and Unix listeners at once (the daemon's
// configuration may list several) and Shutdown stops all of them.
func TestServeSeveralListeners(t *testing.T) {
	s := &Server{Handler: echo}
	var served []<-chan error
	var addrs []net.Addr
	for _, n := range networks {
		ln := listenLoopback(t, n)
		addrs = append(addrs, ln.Addr())
		served = append(served, serveAsync(s, ln))
	}
	for _, a := range addrs {
		if got := dial(t, a).roundTrip("m " + a.Network()); got != "OK m|"+a.Network() {
			t.Fatalf("%s: %q", a.Network(), got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, ch := range served {
		waitServe(t, ch)
	}
}

// TestMaxConnsBackPressure: with MaxConns = N and every connection busy with a request, the
// (N+1)-th connection is not refused but waits, and is served only after one of the first N
// is no longer busy (it is then idle, and gives its place to the newcomer).
func TestMaxConnsBackPressure(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("MaxConns=%d", n), func(t *testing.T) {
			var (
				mu     sync.Mutex
				events []string
			)
			record := func(e string) {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}
			release := make(chan struct{})
			blocked := make(chan struct{}, n)
			h := HandlerFunc(func(ctx context.Context, name, key string) string {
				if key == "block" {
					blocked <- struct{}{}
					<-release
				}
				record(key)
				return echo(ctx, name, key)
			})
			addr := startServer(t, &Server{Handler: h, MaxConns: n}, "tcp")
			first := make([]*client, n)
			for i := range first {
				first[i] = dial(t, addr)
				if got := first[i].roundTrip("m first"); got != "OK m|first" {
					t.Fatalf("conn %d: %q", i, got)
				}
				first[i].request("m block") // busy until release
			}
			for range n { // every connection is busy in the handler
				<-blocked
			}
			waiting := dial(t, addr) // completes in the kernel backlog
			waiting.request("m waiting")
			if p, err := waiting.next(300 * time.Millisecond); err == nil {
				t.Fatalf("connection over MaxConns was served (%q) while %d were busy", p, n)
			}
			record("released")
			close(release)
			for i := range first {
				if got := first[i].reply(); got != "OK m|block" {
					t.Fatalf("busy conn %d: %q", i, got)
				}
			}
			if got := waiting.reply(); got != "OK m|waiting" {
				t.Fatalf("waiting conn after a slot freed: %q", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if events[len(events)-1] != "waiting" || !slices.Contains(events, "released") {
				t.Fatalf("events %q: the waiting request must be handled after the busy ones ended", events)
			}
			// A further client waits in the backlog while Shutdown runs: Serve must still
			// return (checked by startServer's cleanup).
			dial(t, addr).request("m backlog")
		})
	}
}
