package dnsclient

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/miekg/dns"
)

// behaviour names how one test server answers "host.example. A".
type behaviour string

const (
	answers   behaviour = "answers"
	stalls    behaviour = "stalls"
	refuses   behaviour = "refuses"
	servfails behaviour = "servfails"
	garbles   behaviour = "garbage"
	cuts      behaviour = "cut short"
	mismatch  behaviour = "other question"
	closed    behaviour = "closed port"
)

// serverFor starts a server with the given behaviour and returns its address.
func serverFor(t *testing.T, b behaviour) (string, *dnstest.Server) {
	t.Helper()
	if b == closed {
		return closedPort(t), nil
	}
	s := dnstest.New(t)
	s.Add("host.example. 300 IN A 192.0.2.1")
	switch b {
	case stalls:
		s.SetMode("host.example.", 0, dnstest.Timeout)
	case refuses:
		s.SetMode("host.example.", 0, dnstest.Refused)
	case servfails:
		s.SetMode("host.example.", 0, dnstest.Bogus)
	case garbles:
		s.SetHandler(garbage)
	case cuts:
		s.SetHandler(cutShort)
	case mismatch:
		s.SetHandler(otherQuestion)
	}
	return s.Addr, s
}

func TestServerFallback(t *testing.T) {
	tests := []struct {
		rule     string
		servers  []behaviour
		wantFrom int   // index of the server that answers, when wantErr is nil
		wantErr  error // sentinel when no server answers
		notAsked int   // index of a server that must not be asked, -1 for none
	}{
		{"first server answers, second not asked", []behaviour{answers, answers}, 0, nil, 1},
		{"timeout → next server", []behaviour{stalls, answers}, 1, nil, -1},
		{"network error (nothing listening) → next server", []behaviour{closed, answers}, 1, nil, -1},
		{"REFUSED → next server", []behaviour{refuses, answers}, 1, nil, -1},
		{"SERVFAIL may be transient → next server once", []behaviour{servfails, answers}, 1, nil, -1},
		{"garbage reply → ErrMalformed, next server", []behaviour{garbles, answers}, 1, nil, -1},
		{"truncated message → next server", []behaviour{cuts, answers}, 1, nil, -1},
		{"RFC 5452 §4.1: reply to another question → next server", []behaviour{mismatch, answers}, 1, nil, -1},
		{"RFC 4035 §5.5: two SERVFAILs are the answer; third server not asked", []behaviour{servfails, servfails, answers}, 0, ErrServFail, 2},
		{"every server times out → ErrTimeout", []behaviour{stalls, stalls}, 0, ErrTimeout, -1},
		{"every server refuses → ErrRefused", []behaviour{refuses, refuses}, 0, ErrRefused, -1},
		{"only server SERVFAIL → ErrServFail", []behaviour{servfails}, 0, ErrServFail, -1},
		{"only server sends garbage → ErrMalformed", []behaviour{garbles}, 0, ErrMalformed, -1},
		{"only server answers another question → ErrMalformed", []behaviour{mismatch}, 0, ErrMalformed, -1},
		{"nothing listening → ErrRefused (the connection was refused, not a timeout)", []behaviour{closed}, 0, ErrRefused, -1},
		{"SERVFAIL outranks timeout", []behaviour{stalls, servfails}, 0, ErrServFail, -1},
		{"REFUSED outranks timeout", []behaviour{refuses, stalls}, 0, ErrRefused, -1},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			var addrs []string
			var srvs []*dnstest.Server
			for _, b := range tc.servers {
				a, s := serverFor(t, b)
				addrs = append(addrs, a)
				srvs = append(srvs, s)
			}
			c, err := New(Config{Servers: addrs, Timeout: testTimeout})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := c.Lookup(context.Background(), "host.example.", dns.TypeA)
			// Each server costs at most one attempt (two with TCP); bound generously.
			if limit := time.Duration(2*len(addrs))*testTimeout + 2*time.Second; time.Since(start) > limit {
				t.Errorf("took %v, more than %v", time.Since(start), limit)
			}
			if tc.wantErr != nil {
				var le *LookupError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &le) || le.Name != "host.example." || le.Type != dns.TypeA {
					t.Fatalf("err = %v, want LookupError for host.example. A matching %v", err, tc.wantErr)
				}
				// The text names what happened: "refused" only for a refusal, "timeout"
				// only when a server stalled.
				msg, stalled := err.Error(), slices.Contains(tc.servers, stalls)
				if strings.Contains(msg, "timeout") != stalled {
					t.Errorf("error text %q: says timeout %v, a server stalled %v", msg, !stalled, stalled)
				}
				if errors.Is(tc.wantErr, ErrRefused) && !strings.Contains(msg, "refused") {
					t.Errorf("error text %q does not say refused", msg)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if res.Server != addrs[tc.wantFrom] || len(res.Records) != 1 || !res.Secure {
					t.Fatalf("answer from %s (%d records, secure %v), want from server %d %s",
						res.Server, len(res.Records), res.Secure, tc.wantFrom, addrs[tc.wantFrom])
				}
			}
			if tc.notAsked >= 0 && srvs[tc.notAsked].Queries() != 0 {
				t.Errorf("server %d was asked", tc.notAsked)
			}
		})
	}
}

// TestContextBounds checks that a stalled server cannot hold a lookup past the caller's
// deadline or cancellation, and that the error says so.
func TestContextBounds(t *testing.T) {
	s := dnstest.New(t)
	s.Add("slow.example. 300 IN A 192.0.2.1")
	s.SetMode("slow.example.", 0, dnstest.Timeout)
	// A long per-attempt timeout, so only the context can end the lookup early.
	c, err := New(Config{Servers: []string{s.Addr, s.Addr}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule    string
		ctx     func() (context.Context, context.CancelFunc)
		wantCtx error
	}{
		{"deadline ends the lookup", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancellation ends the lookup", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"already expired context sends nothing", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err := c.Lookup(ctx, "slow.example.", dns.TypeA)
			if d := time.Since(start); d > 200*time.Millisecond+2*time.Second {
				t.Errorf("lookup took %v after a 200ms bound", d)
			}
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, tc.wantCtx) {
				t.Fatalf("err = %v, want ErrTimeout wrapping %v", err, tc.wantCtx)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		rule    string
		cfg     Config
		wantErr bool
	}{
		{"no server is a configuration error", Config{}, true},
		{"server without port", Config{Servers: []string{"127.0.0.1"}}, true},
		{"server with bad port", Config{Servers: []string{"127.0.0.1:x"}}, true},
		{"IPv6 server in brackets", Config{Servers: []string{"[::1]:53"}}, false},
		{"defaults applied", Config{Servers: []string{"127.0.0.1:53"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			c, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (c.timeout != DefaultTimeout || c.udpSize != DefaultUDPSize) {
				t.Fatalf("timeout %v size %d, want defaults", c.timeout, c.udpSize)
			}
		})
	}
}
