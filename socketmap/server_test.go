package socketmap

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServerRequests: request splitting and PERM answers for requests whose framing is
// intact (socketmap_table(5) "name <space> key"; conformance.md §1). Every case runs on the
// same connection, which must stay usable after each PERM.
func TestServerRequests(t *testing.T) {
	cases := []struct {
		name, request, want string
	}{
		{"name<SPACE>key is split at the first space", "sts example.com", "OK sts|example.com"},
		{"key keeps everything after the first space", "sts a b  c", "OK sts|a b  c"},
		{"empty key is passed to the handler", "sts ", "OK sts|"},
		{"no space: PERM, connection kept (§1)", "stsexample.com", replyNoSpace},
		{"empty name: PERM, connection kept (§1)", " example.com", replyEmptyName},
		{"empty request: PERM, connection kept (§1)", "", replyNoSpace},
		{"bracketed next-hop with port passes unchanged", "sts [mx.example.com]:587", "OK sts|[mx.example.com]:587"},
		{"binary bytes pass unchanged", "sts \x00\xff", "OK sts|\x00\xff"},
		{"request at the 10000-byte limit", "sts " + strings.Repeat("k", DefaultMaxRequest-4), "OK sts|" + strings.Repeat("k", DefaultMaxRequest-4)},
	}
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo}, network)
		cl := dial(t, addr)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cl.t = t
				if got := cl.roundTrip(tc.request); got != tc.want {
					t.Fatalf("reply %.60q, want %.60q", got, tc.want)
				}
			})
		}
	})
}

// TestServerPersistent: many requests on one connection are answered in order (§1:
// connections are persistent), both strictly alternating and pipelined in one write.
func TestServerPersistent(t *testing.T) {
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo}, network)
		t.Run("100 sequential requests on one connection", func(t *testing.T) {
			cl := dial(t, addr)
			for i := range 100 {
				key := fmt.Sprintf("d%d.example", i)
				if got, want := cl.roundTrip("m "+key), "OK m|"+key; got != want {
					t.Fatalf("request %d: %q, want %q", i, got, want)
				}
			}
		})
		t.Run("50 pipelined requests in one write answered in order", func(t *testing.T) {
			cl := dial(t, addr)
			var buf []byte
			for i := range 50 {
				buf = AppendNetstring(buf, fmt.Appendf(nil, "m p%d.example", i))
			}
			cl.send(string(buf))
			for i := range 50 {
				if got, want := cl.reply(), fmt.Sprintf("OK m|p%d.example", i); got != want {
					t.Fatalf("reply %d: %q, want %q", i, got, want)
				}
			}
		})
		t.Run("reply not held back behind a partial pipelined request", func(t *testing.T) {
			cl := dial(t, addr)
			cl.send("5:m one,7:m tw") // second request incomplete
			if got := cl.reply(); got != "OK m|one" {
				t.Fatalf("first reply %q", got)
			}
			cl.send("o.x,")
			if got := cl.reply(); got != "OK m|two.x" {
				t.Fatalf("second reply %q", got)
			}
		})
	})
}

// TestServerBrokenFraming: framing errors cannot be resynchronised, so the server answers
// PERM once and closes that connection, without buffering a hostile length, and keeps
// serving other connections (§1: never crash or hang the daemon).
func TestServerBrokenFraming(t *testing.T) {
	cases := []struct {
		name, raw, want string
	}{
		{"length over MaxRequest, rejected before the payload is sent", "10001:", replyTooLong},
		{"huge length digits", "99999999999999999999:", replyTooLong},
		{"non-digit length", "x:sts a,", replyMalformed},
		{"leading zero", "04:m a,", replyMalformed},
		{"missing colon", "3abc,", replyMalformed},
		{"missing comma", "5:m a.bX", replyMalformed},
	}
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo}, network)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cl := dial(t, addr)
				if got := cl.roundTrip("m ok"); got != "OK m|ok" {
					t.Fatalf("warm-up reply %q", got)
				}
				cl.send(tc.raw)
				if got := cl.reply(); got != tc.want {
					t.Fatalf("reply %q, want %q", got, tc.want)
				}
				cl.expectClosed(5 * time.Second)
				if got := dial(t, addr).roundTrip("m next"); got != "OK m|next" {
					t.Fatalf("new connection after broken framing: %q", got)
				}
			})
		}
	})
}

// TestServerTruncatedRequest: a connection ending mid-netstring is closed without a reply.
func TestServerTruncatedRequest(t *testing.T) {
	addr := startServer(t, &Server{Handler: echo}, "tcp")
	cl := dial(t, addr)
	cl.send("10:m abc")
	if err := cl.c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	cl.expectClosed(5 * time.Second)
}

// TestServerHandlerPanic: a panicking handler costs one TEMP reply, not the daemon or the
// connection (§1).
func TestServerHandlerPanic(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, name, key string) string {
		if key == "boom" {
			panic("handler bug")
		}
		return echo(ctx, name, key)
	})
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: h}, network)
		cl := dial(t, addr)
		for i, step := range []struct{ req, want string }{
			{"m boom", replyInternalError},
			{"m fine", "OK m|fine"},
			{"m boom", replyInternalError},
			{"m still", "OK m|still"},
		} {
			if got := cl.roundTrip(step.req); got != step.want {
				t.Fatalf("step %d: %q, want %q", i, got, step.want)
			}
		}
	})
}

// TestServerReplyLimit: replies over Postfix's 100 000-byte limit (socketmap_table(5)) or the
// configured MaxReply are replaced by PERM; a reply at the limit passes.
func TestServerReplyLimit(t *testing.T) {
	h := HandlerFunc(func(_ context.Context, _, key string) string {
		var n int
		fmt.Sscan(key, &n)
		return "OK " + strings.Repeat("x", n-3)
	})
	cases := []struct {
		name     string
		maxReply int
		size     int
		tooLong  bool
	}{
		{"default limit: 100000 bytes pass", 0, DefaultMaxReply, false},
		{"default limit: 100001 bytes rejected", 0, DefaultMaxReply + 1, true},
		{"configured limit: at limit passes", 50, 50, false},
		{"configured limit: over limit rejected", 50, 51, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := startServer(t, &Server{Handler: h, MaxReply: tc.maxReply}, "tcp")
			cl := dial(t, addr)
			got := cl.roundTrip(fmt.Sprintf("m %d", tc.size))
			if tc.tooLong {
				if got != replyReplyTooLong {
					t.Fatalf("reply of %d bytes, want %q", len(got), replyReplyTooLong)
				}
			} else if len(got) != tc.size {
				t.Fatalf("reply of %d bytes, want %d", len(got), tc.size)
			}
			if got := cl.roundTrip("m 5"); got != "OK xx" {
				t.Fatalf("connection unusable after: %q", got)
			}
		})
	}
}

// TestServerRequestTimeout: the handler's ctx carries RequestTimeout as its deadline, and
// none when it is negative.
func TestServerRequestTimeout(t *testing.T) {
	cases := []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"default 10s", 0, DefaultRequestTimeout},
		{"configured 3s", 3 * time.Second, 3 * time.Second},
		{"negative: none", -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var left time.Duration
			h := HandlerFunc(func(ctx context.Context, _, _ string) string {
				d, ok := ctx.Deadline()
				if !ok {
					if tc.want == 0 {
						return "NOTFOUND "
					}
					return "PERM no deadline"
				}
				if tc.want == 0 {
					return "PERM deadline " + time.Until(d).String()
				}
				left = time.Until(d)
				return "NOTFOUND "
			})
			addr := startServer(t, &Server{Handler: h, RequestTimeout: tc.set}, "tcp")
			if got := dial(t, addr).roundTrip("m k"); got != "NOTFOUND " {
				t.Fatalf("reply %q", got)
			}
			if left > tc.want || left < tc.want-2*time.Second {
				t.Fatalf("deadline %v away, want about %v", left, tc.want)
			}
		})
	}
}

// TestServerIdleTimeout: an idle connection, or one stalled mid-request, is closed within
// IdleTimeout (bounded: timeout + 2 s).
func TestServerIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	cases := []struct{ name, raw string }{
		{"no request at all", ""},
		{"idle after a completed request", "3:m a,"},
		{"stalled inside the length", "12"},
		{"stalled inside the payload", "10:m abc"},
	}
	forEachNetwork(t, func(t *testing.T, network string) {
		addr := startServer(t, &Server{Handler: echo, IdleTimeout: idle}, network)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				// The server's idle clock starts when it accepts the connection (or reads the
				// last byte), after the client began to connect: read the client's clock
				// before dialling, or the server's timeout can look early by the dial's time.
				start := time.Now()
				cl := dial(t, addr)
				if tc.raw != "" {
					cl.send(tc.raw)
				}
				if tc.raw == "3:m a," {
					if got := cl.reply(); got != "OK m|a" {
						t.Fatalf("reply %q", got)
					}
				}
				cl.expectClosed(idle + 2*time.Second)
				if el := time.Since(start); el < idle {
					t.Fatalf("closed after %v, before the idle timeout %v", el, idle)
				}
			})
		}
	})
}

// TestServerConcurrentConnections: connections are served independently: a slow request on
// one does not delay another.
func TestServerConcurrentConnections(t *testing.T) {
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, name, key string) string {
		if key == "slow" {
			<-release
		}
		return echo(ctx, name, key)
	})
	addr := startServer(t, &Server{Handler: h}, "tcp")
	slow := dial(t, addr)
	slow.request("m slow")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			cl := dial(t, addr)
			key := fmt.Sprintf("k%d", i)
			if got := cl.roundTrip("m " + key); got != "OK m|"+key {
				t.Errorf("conn %d: %q", i, got)
			}
		})
	}
	wg.Wait()
	close(release)
	if got := slow.reply(); got != "OK m|slow" {
		t.Fatalf("slow reply %q", got)
	}
}
