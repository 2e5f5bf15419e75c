package reporter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt/store"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// recSender records deliveries and fails the first failures[uri] attempts to uri.
type recSender struct {
	mu       sync.Mutex
	sent     map[string]int // "report-id uri" → deliveries accepted
	failures map[string]int
	tries    int
}

func newRecSender() *recSender { return &recSender{sent: map[string]int{}, failures: map[string]int{}} }

func (s *recSender) Send(_ context.Context, u *url.URL, m *Message, gz []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.failures[u.String()] > 0 {
		s.failures[u.String()]--
		return fmt.Errorf("destination %s unavailable", u)
	}
	s.sent[m.ReportID+" "+u.String()]++
	return nil
}

// fill writes one day's counts into st: for each domain, ok successes and failed
// failures (certificate-expired) under an sts policy.
func fill(t testing.TB, st *store.Store, day string, domains map[string][2]int64, rua func(string) string) {
	b := store.NewBatch()
	for d, n := range domains {
		g := store.Group{Day: day, Domain: d, Record: "v=TLSRPTv1; rua=" + rua(d),
			Policy: `{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce"],"policy-domain":"` + d + `","mx-host":["mx.` + d + `"]}`}
		b.Sessions[g] = &store.Counts{OK: n[0], Failed: n[1]}
		if n[1] > 0 {
			b.Failures[store.DetailKey{Group: g, Detail: `{"result-type":"certificate-expired","receiving-ip":"192.0.2.7","failed-session-count":0}`}] = n[1]
		}
	}
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func openStore(t testing.TB, path string) *store.Store {
	if path == "" {
		path = filepath.Join(t.TempDir(), "tlsrpt.db")
	}
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
