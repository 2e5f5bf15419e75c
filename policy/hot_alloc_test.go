package policy

import (
	"context"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dane"
)

// maxHotAllocs is what a lookup the hot store answers may allocate, reply included:
// nothing. Reasons, replies and the Decision itself are free; the IP-literal check skips
// netip.ParseAddr (and its allocated error) for anything that cannot be an address.
const maxHotAllocs = 0

// Issue: no heap allocation per cached lookup. Each representative answer, once cached, is
// resolved into a reused Decision and rendered as the Postfix reply.
func TestHotPathAllocs(t *testing.T) {
	h, _ := newDANEHarness(t, map[string]dane.Outcome{"dane.example": dane.DANEOnly})
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx1.sts.example", "*.sts.example"))
	h.dns.Add("nopolicy.example. 300 IN A 192.0.2.1")
	o, err := OverridesFromConfig([]config.Override{{Domain: "over.example", Level: "secure", Match: []string{"mx.over.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.eng.SetOverrides(o)
	dry := &Profile{Name: "dry", DANE: true, ReportOnly: true}
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		profile *Profile
		key     string
		cached  bool // answered from the hot store (overrides and IP literals need no facts)
	}{
		{"sts enforce", plain, "sts.example", true},
		{"sts enforce, TLSRPT", tlsrpt, "sts.example", true},
		{"negative", plain, "nopolicy.example", true},
		{"dane", plain, "dane.example", true},
		{"dane, host next-hop", plain, "[dane.example]", true},
		{"dane, host next-hop with port", plain, "[dane.example]:587", true},
		{"sts, domain with port", plain, "sts.example:587", true},
		{"override", plain, "over.example", false},
		{"report-only sts", dry, "sts.example", true},
		{"report-only override", dry, "over.example", false},
		{"input (IP literal)", plain, "[192.0.2.1]", false},
	} {
		var d Decision
		h.eng.ResolveInto(ctx, c.profile, c.key, &d) // warm the hot store
		var reply string
		n := testing.AllocsPerRun(100, func() {
			h.eng.ResolveInto(ctx, c.profile, c.key, &d)
			reply = d.PostfixReply()
		})
		if c.cached && !d.CacheHit {
			t.Errorf("%s: not answered from the hot store", c.name)
		}
		if n > maxHotAllocs {
			t.Errorf("%s (%q): %v allocations per lookup, want at most %d", c.name, reply, n, maxHotAllocs)
		}
		t.Logf("%s: %v allocs, %q", c.name, n, reply)
	}
}

// conformance.md §4: a lookup that finds the TXT check stale is answered from the hot store
// and hands the re-read to the background workers: the hand-over allocates nothing either,
// nor does a lookup while that refresh is under way.
func TestHotPathAllocsBackgroundHandOver(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx1.sts.example"))
	ctx := context.Background()
	var d Decision
	h.eng.ResolveInto(ctx, plain, "sts.example", &d)
	h.clock.Advance(301 * time.Second) // the TXT check (TTL 300) is stale, the policy is not
	en, ok := h.eng.sts.Get("sts.example")
	if !ok {
		t.Fatal("not cached")
	}
	// Workers "serve" the queue, but the test takes the jobs itself, so that nothing runs
	// in the background while allocations are counted.
	h.eng.bg.mu.Lock()
	h.eng.bg.workers++
	h.eng.bg.mu.Unlock()
	handed := 0
	n := testing.AllocsPerRun(100, func() {
		en.refreshing.Store(false)
		h.eng.ResolveInto(ctx, plain, "sts.example", &d)
		select {
		case <-h.eng.bg.jobs:
			handed++
		default:
		}
	})
	if !d.CacheHit || d.Result != OK {
		t.Errorf("stale check: hit %v %q, want the held policy from the hot store", d.CacheHit, d.PostfixReply())
	}
	if handed < 100 {
		t.Errorf("%d hand-overs in %d lookups", handed, 101)
	}
	if n > maxHotAllocs {
		t.Errorf("lookup with a background hand-over: %v allocations, want at most %d", n, maxHotAllocs)
	}
	// While the refresh is under way (marked), lookups neither hand over nor allocate.
	en.refreshing.Store(true)
	n = testing.AllocsPerRun(100, func() { h.eng.ResolveInto(ctx, plain, "sts.example", &d) })
	if len(h.eng.bg.jobs) != 0 {
		t.Errorf("%d hand-overs while a refresh was under way", len(h.eng.bg.jobs))
	}
	if n > maxHotAllocs {
		t.Errorf("lookup during a background refresh: %v allocations, want at most %d", n, maxHotAllocs)
	}
	t.Logf("hand-over: %d of 101 lookups", handed)
}
