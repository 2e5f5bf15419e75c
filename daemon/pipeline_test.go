package daemon

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/socketmap"
)

// Pipelined socketmap requests: the reply to a cached answer is written while a cold
// lookup pipelined behind it waits on the DNS (the engine's BeforeWait flushes the
// connection's batch), not held until that lookup ends; the replies stay in order. The
// lab's DNS holds every query about the cold domain until the test releases it, and the
// cold lookup's timeouts outlast the test's wait, so it cannot end before.
func TestPipelinedReplyNotHeldBehindColdLookup(t *testing.T) {
	l := lab.New(t)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example"))
	gate := make(chan struct{})
	var held atomic.Int64
	l.DNS.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
		if len(r.Question) == 1 && strings.HasSuffix(r.Question[0].Name, "cold.example.") {
			held.Add(1)
			<-gate
		}
		return false
	})
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(release)

	addr := lab.FreeAddr(t)
	// The cold lookup's own bounds (resolver and fetch timeouts) outlast the wait for the
	// first reply below, which without the flush would come only once that lookup ended.
	yaml := strings.NewReplacer("timeout: 500ms", "timeout: 25s", "fetch_timeout: 3s", "fetch_timeout: 25s").Replace(l.Config("", addr, t.TempDir()))
	cfg, err := config.Parse([]byte(yaml), "pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		release()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	const sts = "OK secure match=mx.sts.example servername=hostname"
	var warm string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := lab.Dial(addr); err == nil {
			warm, _ = c.Ask("postfix", "sts.example")
			c.Close()
			break
		}
	}
	if warm != sts {
		t.Fatalf("warming sts.example: %q, want %q", warm, sts)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req []byte
	for _, key := range []string{"sts.example", "cold.example", "sts.example"} {
		req = socketmap.AppendNetstring(req, []byte("postfix "+key))
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	r := socketmap.NewReader(c, socketmap.DefaultMaxReply)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	first, err := r.Next()
	if err != nil || string(first) != sts {
		t.Fatalf("first reply while the cold lookup behind it waits: %q, %v; want %q", first, err, sts)
	}
	for deadline := time.Now().Add(10 * time.Second); held.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cold lookup never reached the DNS")
		}
	}
	release()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for _, want := range []string{"NOTFOUND ", sts} {
		got, err := r.Next()
		if err != nil || string(got) != want {
			t.Fatalf("after the release: %q, %v; want %q", got, err, want)
		}
	}
}
