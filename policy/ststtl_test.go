package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// setTXTTTL publishes domain's _mta-sts TXT records with the given TTL.
func (h *harness) setTXTTTL(domain string, ttl int, txt ...string) {
	name := "_mta-sts." + domain + "."
	h.dns.Remove(name, dns.TypeTXT)
	for _, s := range txt {
		h.dns.Add(fmt.Sprintf("%s %d IN TXT %q", name, ttl, s))
	}
}

// conformance.md §4: the TXT record is re-read once the check is older than the record's
// TTL as published (no floor beyond a few seconds): a new id, or a withdrawal to mode
// none, reaches the lookup after the re-read, not a minute later. The re-read and refetch
// run in the background while the held policy is unexpired: the lookup that finds the
// check stale is answered from the cache at once.
func TestTXTTTLAsPublished(t *testing.T) {
	h := newHarness(t, nil)
	h.setTXTTTL("example.com", 10, "v=STSv1; id=1;")
	h.fetch.set("example.com", policyText("enforce", 86400, "old.example.com"))
	if d := h.resolve(plain, "example.com"); d.STS.IsZero() || d.STS.ID != "1" {
		t.Fatalf("first lookup: %q", d.PostfixReply())
	}

	// Within the 10 s TTL: no re-read.
	h.setTXTTTL("example.com", 10, "v=STSv1; id=2;")
	h.fetch.set("example.com", policyText("enforce", 86400, "new.example.com"))
	h.clock.Advance(9 * time.Second)
	if d := h.resolve(plain, "example.com"); !d.CacheHit || d.STS.ID != "1" {
		t.Errorf("within the TTL: hit %v, %q", d.CacheHit, d.PostfixReply())
	}
	if n := h.txtQueries("example.com"); n != 1 {
		t.Errorf("TXT read %d times within its TTL", n)
	}

	// Past the TTL (11 s, well under the old 60 s floor): the lookup is answered from the
	// cache, without waiting for the fetch, which is held until the lookup returned.
	release := make(chan struct{})
	h.fetch.onFetch = func() { <-release }
	h.clock.Advance(2 * time.Second)
	d := h.resolve(plain, "example.com")
	if !d.CacheHit || d.STS.ID != "1" {
		t.Errorf("stale check: hit %v %q, want the held policy at once", d.CacheHit, d.PostfixReply())
	}
	close(release)
	h.settle()
	h.fetch.onFetch = nil
	d = h.resolve(plain, "example.com")
	if d.STS.IsZero() || d.STS.ID != "2" || !strings.Contains(d.PostfixReply(), "match=new.example.com") || !d.CacheHit {
		t.Errorf("next lookup after the new policy arrived: hit %v %q, want id 2 from the hot store", d.CacheHit, d.PostfixReply())
	}
	if n := h.fetch.count("example.com"); n != 2 {
		t.Errorf("fetches %d, want 2", n)
	}

	// A withdrawal to mode none (RFC 8461 §8.3) reaches Postfix after the TTL too.
	h.setTXTTTL("example.com", 10, "v=STSv1; id=3;")
	h.fetch.set("example.com", "version: STSv1\nmode: none\nmax_age: 86400\n")
	h.clock.Advance(11 * time.Second)
	h.resolve(plain, "example.com")
	h.settle()
	if d := h.resolve(plain, "example.com"); d.Result != NotFound || !d.STS.IsZero() {
		t.Errorf("after withdrawal to mode none: %q", d.PostfixReply())
	}
}

// conformance.md §4: TTLs below the floor (default 5 s, configurable) are raised to it.
func TestTXTTTLFloor(t *testing.T) {
	for _, tc := range []struct {
		floor       time.Duration // Options.TXTTTLMin; 0 = default
		ttl         int
		noRead, due time.Duration
	}{
		{0, 0, 4 * time.Second, 6 * time.Second},    // TTL 0 → default floor 5 s
		{0, 1, 4 * time.Second, 6 * time.Second},    // TTL 1 → 5 s
		{0, 30, 29 * time.Second, 31 * time.Second}, // TTL as published
		{2 * time.Second, 1, 1 * time.Second, 3 * time.Second},
	} {
		t.Run(fmt.Sprintf("floor %s ttl %d", tc.floor, tc.ttl), func(t *testing.T) {
			h := newHarness(t, nil)
			dc := h.eng.opt.Resolver
			eng, err := New(Options{Resolver: dc, Fetcher: h.fetch, Now: h.clock.Now, TXTTTLMin: tc.floor})
			if err != nil {
				t.Fatal(err)
			}
			h.eng = eng
			h.setTXTTTL("example.com", tc.ttl, "v=STSv1; id=1;")
			h.fetch.set("example.com", policyText("enforce", 86400, "mx.example.com"))
			h.resolve(plain, "example.com")
			h.clock.Advance(tc.noRead)
			h.resolve(plain, "example.com")
			h.settle()
			if n := h.txtQueries("example.com"); n != 1 {
				t.Errorf("TXT read again %s after the check: %d queries", tc.noRead, n)
			}
			h.clock.Advance(tc.due - tc.noRead)
			h.resolve(plain, "example.com")
			h.settle()
			if n := h.txtQueries("example.com"); n != 2 {
				t.Errorf("TXT not re-read %s after the check: %d queries", tc.due, n)
			}
		})
	}
}

// conformance.md §4 and §6: many lookups that find the check stale at once are all answered
// from the cache and cost one re-read and one fetch between them (coalesced per domain).
func TestBackgroundRefreshCoalesced(t *testing.T) {
	h := newHarness(t, nil)
	h.setTXTTTL("example.com", 10, "v=STSv1; id=1;")
	h.fetch.set("example.com", policyText("enforce", 86400, "mx.example.com"))
	h.resolve(plain, "example.com")
	h.setTXTTTL("example.com", 10, "v=STSv1; id=2;")
	h.clock.Advance(11 * time.Second)
	h.fetch.delay = 100 * time.Millisecond
	var wg sync.WaitGroup
	hits := make([]bool, 50)
	for i := range hits {
		wg.Go(func() {
			d := h.resolve(plain, "example.com")
			hits[i] = d.CacheHit && d.Result == OK
		})
	}
	wg.Wait()
	for i, ok := range hits {
		if !ok {
			t.Fatalf("lookup %d was not answered from the hot store", i)
		}
	}
	h.settle()
	if q, f := h.txtQueries("example.com"), h.fetch.count("example.com"); q != 2 || f != 2 {
		t.Errorf("%d TXT queries, %d fetches; want 2 and 2 (one background refresh)", q, f)
	}
}

// RFC 8461 §5.1, conformance.md §4: a policy past max_age is never applied, also when its
// refetch fails or the TXT lookup fails; the explanation says when it expired and why the
// refetch failed.
func TestExpiredMeansGone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(h *harness)
		why    string
	}{
		{"refetch fails", func(h *harness) { h.fetch.setDown("example.com", true) }, "connection refused"},
		{"refetch fails under a new id", func(h *harness) {
			h.setTXT("example.com", "v=STSv1; id=2;")
			h.fetch.setDown("example.com", true)
		}, "connection refused"},
		{"TXT lookup fails", func(h *harness) { h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Refused) }, "TXT _mta-sts.example.com lookup failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.sts("example.com", "1", policyText("enforce", 600, "mx.example.com"))
			if d := h.resolve(plain, "example.com"); d.Result != OK {
				t.Fatalf("first lookup: %q", d.PostfixReply())
			}
			tc.break_(h)
			h.clock.Advance(601 * time.Second)
			for i := range 3 {
				d := h.resolve(plain, "example.com")
				h.settle()
				if d.Result != NotFound || !d.STS.IsZero() {
					t.Fatalf("lookup %d past max_age: %q, want NOTFOUND", i, d.PostfixReply())
				}
				why := strings.Join(d.Reasons(), "\n")
				if !strings.Contains(why, "expired at 2026-11-01T12:10:00Z") || !strings.Contains(why, tc.why) {
					t.Errorf("explanation lacks the expiry or the failure (%q):\n%s", tc.why, why)
				}
				h.clock.Advance(time.Minute)
			}
		})
	}
}

// RFC 8461 §5.1 ("senders SHOULD proactively refresh"): a domain in use is refetched in
// the last quarter of its max_age, behind a cached answer, so it does not expire.
func TestHotDomainDoesNotExpire(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 600, "mx.example.com"))
	h.resolve(plain, "example.com")
	for i := range 30 { // an hour of lookups, one a minute, no refresher pass
		h.clock.Advance(2 * time.Minute)
		d := h.resolve(plain, "example.com")
		h.settle()
		if d.Result != OK {
			t.Fatalf("lookup %d (%s in): %q, the policy of a domain in use expired", i, time.Duration(i+1)*2*time.Minute, d.PostfixReply())
		}
	}
	if n := h.fetch.count("example.com"); n < 2 {
		t.Errorf("%d fetches in an hour of a 600 s policy", n)
	}
}

// RFC 8461 §3.2: max_age 0 is a valid policy: it applies to the lookup that fetched it and
// is not kept (not in memory, not in the store): the next lookup fetches again.
func TestMaxAgeZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h := newHarness(t, store)
	h.sts("example.com", "1", policyText("enforce", 0, "mx.example.com"))
	for i := range 3 {
		d := h.resolve(tlsrpt, "example.com")
		if d.Result != OK || !strings.HasPrefix(d.PostfixReply(), "OK secure match=mx.example.com servername=hostname") || d.CacheHit {
			t.Fatalf("lookup %d: %q (hit %v), want the policy just fetched", i, d.PostfixReply(), d.CacheHit)
		}
		if !strings.Contains(d.PostfixReply(), "policy_ttl=0") {
			t.Errorf("lookup %d: %q lacks policy_ttl=0", i, d.PostfixReply())
		}
		if n := h.fetch.count("example.com"); n != i+1 {
			t.Errorf("lookup %d: %d fetches, want %d (the policy is not kept)", i, n, i+1)
		}
		h.clock.Advance(time.Second)
	}
	en, ok := h.eng.sts.Get("example.com")
	if !ok || en.Policy != nil {
		t.Errorf("hot store keeps the max_age 0 policy")
	}
	if err := store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ent, ok, err := store.Get(context.Background(), kindSTS, "example.com")
	if err != nil || !ok {
		t.Fatalf("store: %v %v", ok, err)
	}
	rec, err := decodeSTS(ent.Value)
	if err != nil || rec.Policy != nil {
		t.Errorf("store keeps the max_age 0 policy: %+v, %v", rec, err)
	}
	// A policy replaced by a max_age 0 one under a new id is gone too.
	h.sts("example.com", "2", policyText("enforce", 0, "mx2.example.com"))
	h.clock.Advance(301 * time.Second)
	if d := h.resolve(plain, "example.com"); !strings.Contains(d.PostfixReply(), "match=mx2.example.com") {
		t.Errorf("new id with max_age 0: %q", d.PostfixReply())
	}
}
