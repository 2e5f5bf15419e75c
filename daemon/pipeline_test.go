package daemon

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

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
	addr := lab.FreeAddr(t)
	// The cold lookup's own bounds (resolver and fetch timeouts) outlast the wait for the
	// first reply below, which without the flush would come only once that lookup ended.
	startDaemon(t, "pipeline.yaml", strings.NewReplacer("timeout: 500ms", "timeout: 25s", "fetch_timeout: 3s", "fetch_timeout: 25s").Replace(l.Config("", addr, t.TempDir())))
	// Registered after the daemon's stop, so run before it: the held lookup can end.
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(release)
	const sts = "OK secure match=mx.sts.example servername=hostname"
	if warm := lab.Query(t, addr, "postfix", "sts.example"); warm != sts {
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
