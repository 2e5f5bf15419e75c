package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/mtasts"
)

// fakeClock is the engine's injected clock; tests move it forward by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harnessFetchTimeout is the engine's FetchTimeout in the harness.
const harnessFetchTimeout = 2 * time.Second

// fakeFetcher serves policy bodies per domain and counts fetches. The HTTPS rules of the
// fetch itself are tested in package mtasts; here the engine's use of fetch outcomes is.
type fakeFetcher struct {
	mu      sync.Mutex
	bodies  map[string]string
	down    map[string]bool
	delay   time.Duration
	onFetch func() // called at the start of every fetch, if set
	calls   map[string]int
	stalls  []stall // delayed fetches that have ended, in order
}

// stall is how one delayed fetch ended: after how long, and whether its context ended it
// (the engine gave up) before the delay passed.
type stall struct {
	waited    time.Duration
	abandoned bool
}

// ended returns the delayed fetches that have ended so far.
func (f *fakeFetcher) ended() []stall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stall(nil), f.stalls...)
}

func newFakeFetcher() *fakeFetcher {
	return &fakeFetcher{bodies: map[string]string{}, down: map[string]bool{}, calls: map[string]int{}}
}

func (f *fakeFetcher) set(domain, body string) {
	f.mu.Lock()
	f.bodies[domain] = body
	f.mu.Unlock()
}

func (f *fakeFetcher) setDown(domain string, down bool) {
	f.mu.Lock()
	f.down[domain] = down
	f.mu.Unlock()
}

func (f *fakeFetcher) count(domain string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[domain]
}

func (f *fakeFetcher) Fetch(ctx context.Context, domain string) (*mtasts.FetchResult, error) {
	f.mu.Lock()
	f.calls[domain]++
	body, ok := f.bodies[domain]
	down, delay, hook := f.down[domain], f.delay, f.onFetch
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	if delay > 0 {
		start := time.Now()
		select {
		case <-time.After(delay):
			f.mu.Lock()
			f.stalls = append(f.stalls, stall{waited: time.Since(start)})
			f.mu.Unlock()
		case <-ctx.Done():
			f.mu.Lock()
			f.stalls = append(f.stalls, stall{waited: time.Since(start), abandoned: true})
			f.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	if down || !ok {
		return nil, &mtasts.FetchError{Domain: domain, Type: mtasts.ResultFetchError, Err: errors.New("connection refused")}
	}
	p, err := mtasts.ParsePolicy([]byte(body))
	if err != nil {
		return nil, &mtasts.FetchError{Domain: domain, Type: mtasts.ResultPolicyInvalid, Err: err}
	}
	return &mtasts.FetchResult{Policy: p, Body: []byte(body), URL: "https://mta-sts." + domain + "/.well-known/mta-sts.txt"}, nil
}

type harness struct {
	t     testing.TB
	dns   *dnstest.Server
	fetch *fakeFetcher
	clock *fakeClock
	eng   *Engine
}

func newHarness(t testing.TB, backend cache.Backend) *harness {
	t.Helper()
	h := &harness{t: t, dns: dnstest.New(t), fetch: newFakeFetcher(), clock: &fakeClock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}
	h.eng = h.engine(backend, h.dns.Addr)
	return h
}

// engine builds an engine on the harness's fetcher and clock, resolving through addr.
func (h *harness) engine(backend cache.Backend, addr string) *Engine {
	h.t.Helper()
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{addr}, Timeout: 300 * time.Millisecond})
	if err != nil {
		h.t.Fatal(err)
	}
	eng, err := New(Options{Resolver: dc, Fetcher: h.fetch, Backend: backend, Now: h.clock.Now, FetchTimeout: harnessFetchTimeout})
	if err != nil {
		h.t.Fatal(err)
	}
	return eng
}

// sts publishes an MTA-STS record with id and policy body for domain.
func (h *harness) sts(domain, id, body string) {
	h.setTXT(domain, "v=STSv1; id="+id+";")
	h.fetch.set(domain, body)
}

func (h *harness) setTXT(domain string, txt ...string) {
	name := "_mta-sts." + domain + "."
	h.dns.Remove(name, dns.TypeTXT)
	for _, s := range txt {
		h.dns.Add(fmt.Sprintf("%s 300 IN TXT %q", name, s))
	}
}

func (h *harness) txtQueries(domain string) int {
	return h.dns.QueryCount("_mta-sts."+domain+".", dns.TypeTXT)
}

func (h *harness) resolve(p *Profile, key string) *Decision {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.eng.Resolve(ctx, p, key)
}

var (
	plain      = &Profile{Name: "postfix", DANE: true}
	tlsrpt     = &Profile{Name: "postfix-tlsrpt", TLSRPT: true, DANE: true}
	testingEnf = &Profile{Name: "testing-enforce", TestingAsEnforce: true, DANE: true}
)

func policyText(mode string, maxAge int, mx ...string) string {
	s := "version: STSv1\r\nmode: " + mode + "\r\n"
	for _, m := range mx {
		s += "mx: " + m + "\r\n"
	}
	return s + fmt.Sprintf("max_age: %d\r\n", maxAge)
}

// settle waits until no background refresh handed over by a lookup is queued or under way
// (refreshInBackground), so that the next lookup sees its outcome.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := false
		h.eng.sts.Range(func(_ string, en *stsState) bool {
			busy = en.refreshing.Load()
			return !busy
		})
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatal("background refresh still under way after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
