package policy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// conformance.md §4: the answer for each kind of MTA-STS situation.
func TestSTSAnswers(t *testing.T) {
	enforce := policyText("enforce", 86400, "mx1.example.com", "*.example.net")
	tests := []struct {
		name    string
		setup   func(h *harness)
		profile *Profile
		key     string
		want    string
		source  Source
		fetches int
	}{
		{"enforce → secure with match and servername (§4)", func(h *harness) { h.sts("example.com", "1", enforce) },
			plain, "example.com", "OK secure match=mx1.example.com:.example.net servername=hostname", SourceMTASTS, 1},
		{"bracketed next-hop with port uses the name as policy domain", func(h *harness) { h.sts("mx.example.com", "1", policyText("enforce", 600, "mx.example.com")) },
			plain, "[mx.example.com]:587", "OK secure match=mx.example.com servername=hostname", SourceMTASTS, 1},
		{"enforce with TLSRPT attributes (Postfix ≥ 3.10)", func(h *harness) { h.sts("example.com", "1", policyText("enforce", 600, "mx.example.com")) },
			tlsrpt, "Example.COM.", "OK secure match=mx.example.com servername=hostname policy_type=sts policy_domain=example.com policy_ttl=600 mx_host_pattern=mx.example.com" +
				" { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = mx: mx.example.com } { policy_string = max_age: 600 }", SourceMTASTS, 1},
		{"testing → NOTFOUND (RFC 8461 §5)", func(h *harness) { h.sts("example.com", "1", policyText("testing", 600, "mx.example.com")) },
			plain, "example.com", "NOTFOUND ", SourceDefault, 1},
		{"testing with profile testing: enforce → secure", func(h *harness) { h.sts("example.com", "1", policyText("testing", 600, "mx.example.com")) },
			testingEnf, "example.com", "OK secure match=mx.example.com servername=hostname", SourceMTASTS, 1},
		{"none → NOTFOUND", func(h *harness) { h.sts("example.com", "1", "version: STSv1\nmode: none\nmax_age: 600\n") },
			plain, "example.com", "NOTFOUND ", SourceDefault, 1},
		{"no TXT record → NOTFOUND, nothing fetched", func(h *harness) {},
			plain, "example.com", "NOTFOUND ", SourceDefault, 0},
		{"two STS records → no policy (§3.1)", func(h *harness) {
			h.setTXT("example.com", "v=STSv1; id=1;", "v=STSv1; id=2;")
			h.fetch.set("example.com", enforce)
		}, plain, "example.com", "NOTFOUND ", SourceDefault, 0},
		{"STS record beside unrelated TXT records → policy", func(h *harness) {
			h.setTXT("example.com", "v=spf1 -all", "v=STSv1; id=7;", "hello")
			h.fetch.set("example.com", enforce)
		}, plain, "example.com", "OK secure match=mx1.example.com:.example.net servername=hostname", SourceMTASTS, 1},
		{"invalid policy → no policy (sts-policy-invalid)", func(h *harness) { h.sts("example.com", "1", "version: STSv1\nmode: enforce\nmax_age: 600\n") },
			plain, "example.com", "NOTFOUND ", SourceDefault, 1},
		{"fetch failure without cache → no policy (§3.3)", func(h *harness) {
			h.sts("example.com", "1", enforce)
			h.fetch.setDown("example.com", true)
		}, plain, "example.com", "NOTFOUND ", SourceDefault, 1},
		{"TXT SERVFAIL → no policy", func(h *harness) {
			h.sts("example.com", "1", enforce)
			h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Bogus)
		}, plain, "example.com", "NOTFOUND ", SourceDefault, 0},
		{"IP literal → NOTFOUND, no network", func(h *harness) {}, plain, "[192.0.2.1]:25", "NOTFOUND ", SourceInput, 0},
		{"parent-domain probe → NOTFOUND, no network (§4)", func(h *harness) {}, plain, ".example.com", "NOTFOUND ", SourceInput, 0},
		{"invalid UTF-8 → NOTFOUND, no network (not mapped to xn--zn7ca.test)", func(h *harness) {
			h.sts("xn--zn7ca.test", "1", enforce)
		}, plain, "\xff\xfe.test", "NOTFOUND ", SourceInput, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.setup(h)
			d := h.resolve(tt.profile, tt.key)
			if got := d.PostfixReply(); got != tt.want {
				t.Errorf("reply:\n got %q\nwant %q\nreasons: %q", got, tt.want, d.Reasons())
			}
			if d.Source != tt.source {
				t.Errorf("source = %s, want %s", d.Source, tt.source)
			}
			if n := h.fetch.count(d.Domain); n != tt.fetches {
				t.Errorf("fetches = %d, want %d", n, tt.fetches)
			}
			if tt.source == SourceInput && h.dns.Queries() != 0 {
				t.Errorf("%d DNS queries for a key that must not be looked up", h.dns.Queries())
			}
			if len(d.Reasons()) == 0 {
				t.Error("a decision without reasons")
			}
		})
	}
}

// The hot path: a cached answer needs neither DNS nor HTTPS.
func TestCachedAnswerNoNetwork(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	first := h.resolve(plain, "example.com")
	q := h.dns.Queries()
	for range 10 {
		d := h.resolve(tlsrpt, "example.com")
		if !d.CacheHit || d.Result != OK {
			t.Fatalf("cached lookup: hit=%v result=%s", d.CacheHit, d.Result)
		}
	}
	if first.CacheHit {
		t.Error("first lookup reported a cache hit")
	}
	if h.dns.Queries() != q || h.fetch.count("example.com") != 1 {
		t.Errorf("cached lookups did network work: %d queries, %d fetches", h.dns.Queries()-q, h.fetch.count("example.com"))
	}
}

// conformance.md §4: domains without MTA-STS are cached negatively for the TXT answer's
// (negative) TTL, bounded.
func TestNegativeCache(t *testing.T) {
	h := newHarness(t, nil)
	h.dns.SetNegativeTTL(120)
	h.dns.Add("example.org. 300 IN A 192.0.2.1") // the domain exists, no _mta-sts record
	h.resolve(plain, "example.org")
	if n := h.txtQueries("example.org"); n != 1 {
		t.Fatalf("TXT queries = %d, want 1", n)
	}
	h.clock.Advance(119 * time.Second)
	if d := h.resolve(plain, "example.org"); !d.CacheHit || d.Result != NotFound {
		t.Errorf("within the negative TTL: hit=%v result=%s", d.CacheHit, d.Result)
	}
	if n := h.txtQueries("example.org"); n != 1 {
		t.Errorf("TXT queried again within the negative TTL (%d)", n)
	}
	h.clock.Advance(2 * time.Second)
	h.resolve(plain, "example.org")
	if n := h.txtQueries("example.org"); n != 2 {
		t.Errorf("TXT not re-read after the negative TTL (queries %d)", n)
	}

	// A tiny negative TTL is raised to negative_ttl_min (60 s).
	h.dns.SetNegativeTTL(5)
	h.resolve(plain, "short.example")
	h.clock.Advance(30 * time.Second)
	h.resolve(plain, "short.example")
	if n := h.txtQueries("short.example"); n != 1 {
		t.Errorf("negative TTL below the minimum not bounded: %d queries", n)
	}
}

// conformance.md §6: id change → refetch; same id with a changed body → cached policy stays.
func TestRecordIDChange(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 86400, "old.example.com"))
	h.resolve(plain, "example.com")

	// Same id, new body: the TXT record is re-read after its TTL (in the background, the
	// lookup answered from the cache) but nothing is refetched.
	h.fetch.set("example.com", policyText("enforce", 86400, "new.example.com"))
	h.clock.Advance(301 * time.Second)
	if d := h.resolve(plain, "example.com"); !strings.Contains(d.PostfixReply(), "match=old.example.com") || !d.CacheHit {
		t.Errorf("same id: got %q (hit %v), want the cached policy from the hot store", d.PostfixReply(), d.CacheHit)
	}
	h.settle()
	if h.txtQueries("example.com") != 2 || h.fetch.count("example.com") != 1 {
		t.Errorf("same id: %d TXT queries (want 2), %d fetches (want 1)", h.txtQueries("example.com"), h.fetch.count("example.com"))
	}

	// New id: the first lookup after the TXT TTL is answered from the cache and hands the
	// re-read and refetch to the background; the next lookup gets the new policy.
	h.setTXT("example.com", "v=STSv1; id=2;")
	h.clock.Advance(10 * time.Second)
	if d := h.resolve(plain, "example.com"); !d.CacheHit {
		t.Error("the TXT check is fresh: the lookup should be a cache hit")
	}
	h.clock.Advance(300 * time.Second)
	if d := h.resolve(plain, "example.com"); !d.CacheHit || d.STS.ID != "1" {
		t.Errorf("stale TXT check, policy unexpired: hit %v id %v, want the held policy without waiting", d.CacheHit, d.STS)
	}
	h.settle()
	d := h.resolve(plain, "example.com")
	if !strings.Contains(d.PostfixReply(), "match=new.example.com") || d.STS.ID != "2" {
		t.Errorf("new id: got %q (id %v), want the new policy", d.PostfixReply(), d.STS)
	}
	if h.fetch.count("example.com") != 2 {
		t.Errorf("fetches = %d, want 2", h.fetch.count("example.com"))
	}
}

// conformance.md §4/§6: host down with an unexpired cache → cached policy; a failing id is
// retried at most every 5 minutes; expired cache + host down → no policy.
func TestFetchFailureKeepsPolicy(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 3600, "mx.example.com"))
	h.resolve(plain, "example.com")

	h.setTXT("example.com", "v=STSv1; id=2;")
	h.fetch.setDown("example.com", true)
	h.clock.Advance(301 * time.Second)
	if d := h.resolve(plain, "example.com"); d.Result != OK || d.STS.ID != "1" {
		t.Fatalf("host down, cache unexpired: got %q, want the held policy", d.PostfixReply())
	}
	h.settle()
	if n := h.fetch.count("example.com"); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// Within failure_retry the failing id is not fetched again, even after the TXT TTL;
	// while the TXT check is fresh the lookup needs no network at all.
	h.clock.Advance(200 * time.Second)
	if d := h.resolve(plain, "example.com"); !d.CacheHit || d.Result != OK {
		t.Errorf("within failure_retry and the TXT TTL: hit=%v %q, want a cache hit on the held policy", d.CacheHit, d.PostfixReply())
	}
	h.clock.Advance(90 * time.Second) // 290 s after the failure, TXT stale again
	h.resolve(plain, "example.com")
	h.settle()
	if n := h.fetch.count("example.com"); n != 2 {
		t.Errorf("failing id refetched within 5 minutes: %d fetches", n)
	}
	h.clock.Advance(20 * time.Second) // 310 s after the failure
	if d := h.resolve(plain, "example.com"); d.Result != OK {
		t.Errorf("after retry, still down: got %q, want the held policy", d.PostfixReply())
	}
	h.settle()
	if n := h.fetch.count("example.com"); n != 3 {
		t.Errorf("failing id not retried after 5 minutes: %d fetches", n)
	}

	// Past max_age with the host still down: no policy.
	h.clock.Advance(time.Hour)
	if d := h.resolve(plain, "example.com"); d.Result != NotFound {
		t.Errorf("expired cache + host down: got %q, want NOTFOUND", d.PostfixReply())
	}

	// The host comes back: the next attempt (after failure_retry) fetches the new id.
	h.fetch.setDown("example.com", false)
	h.clock.Advance(6 * time.Minute)
	if d := h.resolve(plain, "example.com"); d.Result != OK || d.STS.ID != "2" {
		t.Errorf("host back: got %q, want policy id 2", d.PostfixReply())
	}
}

// RFC 8461 §8.3: removing the TXT record does not withdraw a held, unexpired policy.
func TestRecordRemovedPolicyStays(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	h.resolve(plain, "example.com")
	h.setTXT("example.com")
	h.clock.Advance(301 * time.Second)
	if d := h.resolve(plain, "example.com"); d.Result != OK {
		t.Errorf("record removed: got %q, want the held policy", d.PostfixReply())
	}
}

// conformance.md §6: 50 concurrent identical cold queries → exactly one fetch.
func TestColdQueriesCoalesce(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	h.fetch.delay = 200 * time.Millisecond
	var wg sync.WaitGroup
	replies := make([]string, 50)
	for i := range replies {
		wg.Go(func() { replies[i] = h.resolve(plain, "example.com").PostfixReply() })
	}
	wg.Wait()
	for i, r := range replies {
		if r != "OK secure match=mx.example.com servername=hostname" {
			t.Fatalf("reply %d = %q", i, r)
		}
	}
	if n := h.fetch.count("example.com"); n != 1 {
		t.Errorf("fetches = %d, want exactly 1", n)
	}
	if n := h.txtQueries("example.com"); n != 1 {
		t.Errorf("TXT queries = %d, want exactly 1", n)
	}
}

// conformance.md §6: DNS timeout → bounded time; the failure is not retried on every lookup.
func TestDNSTimeoutBounded(t *testing.T) {
	h := newHarness(t, nil)
	h.dns.SetMode("_mta-sts.slow.example.", 0, dnstest.Timeout)
	start := time.Now()
	d := h.resolve(plain, "slow.example")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("lookup took %v with a timing-out resolver (per-attempt timeout 300ms)", el)
	}
	if d.Result != NotFound {
		t.Errorf("got %q, want NOTFOUND", d.PostfixReply())
	}
	q := h.txtQueries("slow.example")
	if d := h.resolve(plain, "slow.example"); !d.CacheHit {
		t.Error("a lookup right after a DNS failure should not wait on DNS again")
	}
	if h.txtQueries("slow.example") != q {
		t.Error("failed TXT lookup retried immediately")
	}
}

// A caller whose deadline passes while the shared lookup runs gets TEMP at its deadline
// (never a possibly weaker answer); the shared work continues and serves the next lookup.
func TestCallerDeadline(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	h.fetch.delay = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if d := h.eng.Resolve(ctx, plain, "example.com"); d.Result != Temp || d.Source != SourceDeadline {
		t.Errorf("deadline passed with the policy unknown: got %q (%s), want TEMP", d.PostfixReply(), d.Source)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.fetch.count("example.com") < 1 || h.resolve(plain, "example.com").Result != OK {
		if time.Now().After(deadline) {
			t.Fatal("the shared fetch did not complete after the first caller gave up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := h.fetch.count("example.com"); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

// RFC 8461 §5.1: held policies are refreshed in the background, daily and before they
// expire, and the TXT records of domains in use are re-read before their checks go stale,
// so hot domains never wait.
func TestRefresher(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("example.com", "1", policyText("enforce", 7*86400, "mx.example.com"))
	h.sts("short.example", "1", policyText("enforce", 3600, "mx.short.example"))
	h.resolve(plain, "example.com")
	h.resolve(plain, "short.example")
	ctx := context.Background()

	if n := h.eng.RefreshDue(ctx); n != 0 {
		t.Errorf("fresh entries refreshed: %d", n)
	}
	// example.com is used after its TXT check; at 90% of the TXT TTL the refresher
	// re-reads the record. short.example, unused since, is left alone.
	h.clock.Advance(100 * time.Second)
	h.resolve(plain, "example.com")
	h.clock.Advance(180 * time.Second)
	h.eng.RefreshDue(ctx)
	if n := h.txtQueries("example.com"); n != 2 {
		t.Errorf("TXT of a domain in use: %d queries, want 2 (background re-read)", n)
	}
	if n := h.txtQueries("short.example"); n != 1 {
		t.Errorf("TXT of an unused domain: %d queries, want 1", n)
	}
	if d := h.resolve(plain, "example.com"); !d.CacheHit {
		t.Error("lookup after the background re-read was not a cache hit")
	}

	// Half of short.example's max_age: refetched (same id) before it expires.
	h.clock.Advance(26 * time.Minute)
	h.eng.RefreshDue(ctx)
	if n := h.fetch.count("short.example"); n != 2 {
		t.Errorf("short.example fetches = %d, want 2 (refresh at half max_age)", n)
	}
	// Daily refetch of a long-lived policy.
	h.clock.Advance(24 * time.Hour)
	h.eng.RefreshDue(ctx)
	if n := h.fetch.count("example.com"); n != 2 {
		t.Errorf("example.com fetches = %d, want 2 (daily refresh)", n)
	}
	if d := h.resolve(plain, "example.com"); !d.CacheHit || d.Result != OK {
		t.Errorf("after refresh: hit=%v %q", d.CacheHit, d.PostfixReply())
	}
}
