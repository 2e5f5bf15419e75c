package socketmap

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 11: a request, once begun, must be complete within PartialTimeout in total: a
// client trickling bytes does not extend it byte by byte. A request written in two parts
// a moment apart is still answered.
func TestPartialRequestReaped(t *testing.T) {
	const partial = 300 * time.Millisecond
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo, IdleTimeout: 10 * time.Second, PartialTimeout: partial}, network)
		t.Run("stalled after a partial request", func(t *testing.T) {
			cl := dial(t, addr)
			start := time.Now()
			cl.send("10:m a")
			cl.expectClosed(partial + 2*time.Second)
			if el := time.Since(start); el < partial {
				t.Fatalf("closed after %v, before the partial timeout %v", el, partial)
			}
		})
		t.Run("trickling a byte every 50 ms", func(t *testing.T) {
			cl := dial(t, addr)
			start := time.Now()
			cl.send("900:")
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
						if _, err := cl.c.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}()
			cl.expectClosed(partial + 2*time.Second)
			t.Logf("trickling connection closed after %v (partial timeout %v)", time.Since(start).Round(time.Millisecond), partial)
		})
		t.Run("request in two writes", func(t *testing.T) {
			cl := dial(t, addr)
			cl.send("4:m ")
			time.Sleep(20 * time.Millisecond)
			cl.send("ab,")
			if got := cl.reply(); got != "OK m|ab" {
				t.Fatalf("reply %q", got)
			}
		})
	})
}

// Issue 11: slow-loris connections fill MaxConns, each holding a partial request and
// sending a byte now and then (timeouts far away, so only eviction can help). Well-behaved
// clients arriving on new connections, and staying connected as Postfix does, are still
// answered, each taking the place of a slow connection, which is closed.
func TestSlowLorisEvicted(t *testing.T) {
	const maxConns, good = 64, 20
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo, MaxConns: maxConns, IdleTimeout: time.Minute, PartialTimeout: time.Minute}, network)
		var closed atomic.Int32
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range maxConns {
			c, err := net.DialTimeout(addr.Network(), addr.String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if _, err := c.Write([]byte("9000:m ")); err != nil {
				t.Fatal(err)
			}
			wg.Go(func() { // a byte every 100 ms until the server closes the connection
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := c.Write([]byte("x")); err != nil {
						closed.Add(1)
						return
					}
				}
			})
		}
		time.Sleep(3 * evictGrace) // every slot is held by a partial request older than the grace
		var worst time.Duration
		for i := range good {
			start := time.Now()
			cl := dial(t, addr)
			if got, want := cl.roundTrip(fmt.Sprintf("m good%d", i)), fmt.Sprintf("OK m|good%d", i); got != want {
				t.Fatalf("good client %d: %q, want %q", i, got, want)
			}
			worst = max(worst, time.Since(start))
		}
		deadline := time.Now().Add(5 * time.Second)
		for closed.Load() < good && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if n := closed.Load(); n < good {
			t.Errorf("%d slow connections closed, want at least %d (one per good client)", n, good)
		}
		t.Logf("%d good clients answered with %d slow-loris connections holding every slot; slowest connect+answer %v; slow connections closed: %d",
			good, maxConns, worst.Round(time.Microsecond), closed.Load())
	})
}

// Issue 11: over MaxConns, idle connections make room too, longest idle first; a
// connection with a partial request goes before an idle one.
func TestMaxConnsEvictionOrder(t *testing.T) {
	addr := startServer(t, &Server{Handler: echo, MaxConns: 3, IdleTimeout: time.Minute, PartialTimeout: time.Minute}, "tcp")
	oldIdle := dial(t, addr)
	if got := oldIdle.roundTrip("m a"); got != "OK m|a" {
		t.Fatal(got)
	}
	time.Sleep(20 * time.Millisecond)
	newIdle := dial(t, addr)
	if got := newIdle.roundTrip("m b"); got != "OK m|b" {
		t.Fatal(got)
	}
	slow := dial(t, addr)
	slow.send("100:m ")
	time.Sleep(2 * evictGrace)

	first := dial(t, addr) // takes the slow connection's place
	if got := first.roundTrip("m c"); got != "OK m|c" {
		t.Fatalf("first newcomer: %q", got)
	}
	slow.expectClosed(2 * time.Second)
	second := dial(t, addr) // takes the longest-idle connection's place
	if got := second.roundTrip("m d"); got != "OK m|d" {
		t.Fatalf("second newcomer: %q", got)
	}
	oldIdle.expectClosed(2 * time.Second)
	if got := newIdle.roundTrip("m e"); got != "OK m|e" {
		t.Fatalf("the more recently idle connection: %q", got)
	}
}

// BenchmarkNewClientUnderSlowLoris measures what a well-behaved client pays for one query
// on a new connection (dial, request, reply, close) with MaxConns = 64: alone (baseline),
// and while a slow-loris attacker keeps every slot filled with partial requests, a byte
// every 100 ms, reconnecting each connection the server closes.
func BenchmarkNewClientUnderSlowLoris(b *testing.B) {
	const maxConns = 64
	for _, attack := range []bool{false, true} {
		name := "baseline"
		if attack {
			name = "slowloris"
		}
		b.Run(name, func(b *testing.B) {
			addr := startServer(b, &Server{Handler: echo, MaxConns: maxConns, IdleTimeout: time.Minute, PartialTimeout: time.Minute}, "tcp")
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if attack {
				for range maxConns {
					wg.Go(func() {
						for {
							c, err := net.DialTimeout("tcp", addr.String(), time.Second)
							if err != nil {
								return
							}
							_, err = c.Write([]byte("9000:m "))
							for err == nil {
								select {
								case <-stop:
									c.Close()
									return
								case <-time.After(100 * time.Millisecond):
								}
								_, err = c.Write([]byte("x"))
							}
							c.Close() // closed by the server: come back
						}
					})
				}
				time.Sleep(3 * evictGrace)
			}
			req := AppendNetstring(nil, []byte("m good"))
			b.ResetTimer()
			for b.Loop() {
				c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := NewReader(c, DefaultMaxReply).Next(); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
		})
	}
}
