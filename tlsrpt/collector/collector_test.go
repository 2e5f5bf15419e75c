package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// libtlsrptSender sends datagrams exactly as libtlsrpt does: an unbound AF_UNIX
// SOCK_DGRAM socket and sendto(2) with MSG_DONTWAIT to the collector's path.
type libtlsrptSender struct {
	fd   int
	addr *syscall.SockaddrUnix
}

func newSender(t testing.TB, path string) *libtlsrptSender {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return &libtlsrptSender{fd: fd, addr: &syscall.SockaddrUnix{Name: path}}
}

// send returns nil when the socket accepted the datagram, EAGAIN when its queue was full.
func (s *libtlsrptSender) send(b []byte) error {
	return syscall.Sendto(s.fd, b, syscall.MSG_DONTWAIT, s.addr)
}

type harness struct {
	c      *Collector
	st     *store.Store
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	now    *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func start(t testing.TB, cfg Config) *harness {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "tlsrpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(dir, "tlsrpt.sock")
	}
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	reg := prometheus.NewRegistry()
	c, err := New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{c: c, st: st, reg: reg, cancel: cancel, done: make(chan error, 1), now: clk}
	go func() { h.done <- c.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func (h *harness) flush(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func dg(domain string, policy string) []byte {
	return []byte(fmt.Sprintf(`{"d":%q,"pr":"v=TLSRPTv1; rua=mailto:tlsrpt@%s","policies":[%s]}`, domain, domain, policy))
}

const (
	stsOK   = `{"policy-type":2,"policy-domain":"a.example","policy-string":["version: STSv1","mode: enforce","mx: mx.a.example","max_age: 86400"],"mx-host":["mx.a.example"],"t":0,"f":0}`
	stsFail = `{"policy-type":2,"policy-domain":"a.example","policy-string":["version: STSv1","mode: enforce","mx: mx.a.example","max_age: 86400"],"mx-host":["mx.a.example"],"failure-details":[{"c":202,"s":"192.0.2.1","n":"mx.a.example","r":"198.51.100.7"}],"t":1,"f":1}`
	tlsaOK  = `{"policy-type":1,"policy-domain":"_25._tcp.mx.b.example","policy-string":["3 1 1 0123ABCD"],"t":0,"f":0}`
	tlsaBad = `{"policy-type":1,"policy-domain":"_25._tcp.mx.b.example","policy-string":["3 1 1 0123ABCD"],"failure-details":[{"c":304,"r":"198.51.100.8"}],"t":1,"f":1}`
	none    = `{"policy-type":9,"t":0,"f":0}`
)

// TestCollectorAggregatesPerDay: datagrams sent as libtlsrpt sends them are counted per
// UTC day, domain, record and policy; identical policies aggregate; failure details are
// counted; bad datagrams are counted, not fatal; a new UTC day starts new counts.
func TestCollectorAggregatesPerDay(t *testing.T) {
	h := start(t, Config{Mode: 0o620})
	fi, err := os.Stat(h.c.Addr())
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o620 {
		t.Fatalf("socket %v mode %v", err, fi.Mode())
	}
	s := newSender(t, h.c.Addr())
	sent := func(b []byte) {
		t.Helper()
		for {
			err := s.send(b)
			if errors.Is(err, syscall.EAGAIN) {
				time.Sleep(time.Millisecond) // the test wants every datagram in; libtlsrpt would drop it
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	for range 5 {
		sent(dg("a.example", stsOK))
	}
	for range 2 {
		sent(dg("a.example", stsFail))
	}
	sent(dg("b.example", tlsaOK))
	sent(dg("b.example", tlsaBad))
	sent(dg("c.example", none))
	sent([]byte("not json"))
	sent([]byte(`{"dpv":"7","d":"x.example"}`))
	h.flush(t)
	h.now.Set(time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC))
	sent(dg("a.example", stsOK))
	h.flush(t)

	groups, err := h.st.Day(context.Background(), "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 3 {
		t.Fatalf("groups: %+v", groups)
	}
	a := groups[0]
	if a.Domain != "a.example" || len(a.Policies) != 1 || a.Policies[0].Counts != (store.Counts{OK: 5, Failed: 2}) {
		t.Fatalf("a.example: %+v", a)
	}
	var pol tlsrpt.Policy
	if err := json.Unmarshal([]byte(a.Policies[0].Policy), &pol); err != nil || pol.Type != tlsrpt.PolicySTS || len(pol.MXHost) != 1 {
		t.Fatalf("policy %s: %v", a.Policies[0].Policy, err)
	}
	var d tlsrpt.FailureDetail
	if len(a.Policies[0].Details) != 1 || a.Policies[0].Details[0].N != 2 || json.Unmarshal([]byte(a.Policies[0].Details[0].Detail), &d) != nil ||
		d.ResultType != tlsrpt.CertificateHostMismatch || d.ReceivingIP != "198.51.100.7" {
		t.Fatalf("a.example details %+v", a.Policies[0].Details)
	}
	b := groups[1]
	if b.Domain != "b.example" || b.Policies[0].Counts != (store.Counts{OK: 1, Failed: 1}) || b.Policies[0].Details[0].N != 1 {
		t.Fatalf("b.example %+v", b)
	}
	if c := groups[2]; c.Domain != "c.example" || c.Policies[0].Counts != (store.Counts{OK: 1}) {
		t.Fatalf("c.example %+v", c)
	}
	next, err := h.st.Day(context.Background(), "2026-12-01")
	if err != nil || len(next) != 1 || next[0].Policies[0].Counts.OK != 1 {
		t.Fatalf("next day %+v %v", next, err)
	}
	if got := testutil.ToFloat64(h.c.m.received); got != 13 {
		t.Errorf("received %v, want 13", got)
	}
	if got := testutil.ToFloat64(h.c.m.rejected.WithLabelValues(ReasonJSON)) + testutil.ToFloat64(h.c.m.rejected.WithLabelValues(ReasonVersion)); got != 2 {
		t.Errorf("rejected %v, want 2", got)
	}
	h.stop()
	if _, err := os.Stat(h.c.Addr()); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}

// TestCollectorBurst: 100 000 datagrams from four senders with MSG_DONTWAIT, each sent
// again after EAGAIN (a full queue) so that all go in; every datagram the socket accepted
// is counted, none more.
func TestCollectorBurst(t *testing.T) {
	h := start(t, Config{})
	var accepted, refused int64
	var wg sync.WaitGroup
	const senders, each = 4, 25000
	var mu sync.Mutex
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSender(t, h.c.Addr())
			msg := dg(fmt.Sprintf("d%d.example", i), stsOK)
			var a, r int64
			for range each {
				for {
					err := s.send(msg)
					if err == nil {
						a++
						break
					}
					if !errors.Is(err, syscall.EAGAIN) {
						t.Error(err)
						return
					}
					r++ // queue full: libtlsrpt would lose this one; the burst sends it again
					time.Sleep(200 * time.Microsecond)
				}
			}
			mu.Lock()
			accepted += a
			refused += r
			mu.Unlock()
		}()
	}
	wg.Wait()
	h.flush(t)
	groups, err := h.st.Day(context.Background(), "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, g := range groups {
		counted += g.Policies[0].Counts.OK
	}
	if counted != accepted || accepted != senders*each {
		t.Fatalf("socket accepted %d (refused %d), counted %d", accepted, refused, counted)
	}
	t.Logf("burst: %d accepted by the socket, %d refused (queue full), all accepted counted", accepted, refused)
}
