package readsocket

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/policy"
)

// canned answers "dane-only" for dane.example under profile p, fails otherwise as told.
type canned struct {
	mu    sync.Mutex
	asked []string
}

func (c *canned) Decide(_ context.Context, profile, key string, d *policy.Decision) (string, error) {
	c.mu.Lock()
	c.asked = append(c.asked, profile+" "+key)
	c.mu.Unlock()
	switch {
	case profile != "p":
		return "", errors.New("x: " + policy.ErrUnknownProfile.Error() + "") // not wrapped: an internal error
	case key == "panic.example":
		panic("boom")
	case key == "unknown.example":
		return "", policy.ErrUnknownProfile
	}
	*d = policy.Decision{Key: key, Profile: profile, Result: policy.OK, Level: "dane-only", Source: policy.SourceDANE}
	return "OK dane-only", nil
}

func start(t *testing.T, network string, s *Server) net.Addr {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "rs.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr()
}

// ask writes req as Exim does (then shuts its side down unless keepOpen) and reads until
// the server closes: the whole of what Exim's ${readsocket} would get.
func ask(t *testing.T, a net.Addr, req string, keepOpen bool) string {
	t.Helper()
	c, err := net.DialTimeout(a.Network(), a.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if !keepOpen {
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c) // ends only when the server closes
	if err != nil {
		t.Fatalf("%q: %v after %q", req, err, b)
	}
	return string(b)
}

// Issue 18: one request line, one reply line, then the server closes — whether Exim shut
// its side down (the default) or not (shutdown=no), with or without a final newline.
func TestOneRequestOneReply(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			d := &canned{}
			a := start(t, network, &Server{Decider: d, Profile: "p"})
			ok := "result=OK level=dane-only source=dane\n"
			cases := []struct {
				req      string
				keepOpen bool
				want     string
			}{
				{"p dane.example\n", false, ok},
				{"p dane.example\n", true, ok},
				{"p dane.example\r\n", true, ok},
				{"p dane.example", false, ok},
				{"dane.example\n", false, ok},
				{"- dane.example\n", false, ok},
				{"  p   dane.example  \n", false, ok},
				{"\n", false, replyEmpty + "\n"},
				{"", false, replyEmpty + "\n"},
				{"p a b\n", false, replyFields + "\n"},
				{"q dane.example\n", false, replyInternal + "\n"},
				{"p unknown.example\n", false, replyUnknown + "\n"},
				{"p panic.example\n", false, replyInternal + "\n"},
				{"p " + strings.Repeat("a", MaxRequest) + "\n", false, replyTooLong + "\n"},
				{"p " + strings.Repeat("a", MaxRequest), false, replyTooLong + "\n"},
				{"p dane.example\nsecond request ignored\n", true, ok},
			}
			for _, c := range cases {
				if got := ask(t, a, c.req, c.keepOpen); got != c.want {
					t.Errorf("%q (keep open %v): %q, want %q", c.req, c.keepOpen, got, c.want)
				}
			}
		})
	}
}

// Without a default profile a request must name one; a client that never finishes its
// request is closed after ReadTimeout, with no reply.
func TestNoProfileAndStalledClient(t *testing.T) {
	a := start(t, "tcp", &Server{Decider: &canned{}, ReadTimeout: 200 * time.Millisecond})
	if got := ask(t, a, "dane.example\n", false); got != replyNoProf+"\n" {
		t.Fatalf("%q", got)
	}
	start := time.Now()
	if got := ask(t, a, "p dane.exa", true); got != "" {
		t.Fatalf("stalled request answered %q", got)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 3*time.Second {
		t.Fatalf("stalled connection closed after %v", el)
	}
}
