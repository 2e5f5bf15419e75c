package policy

import (
	"context"
	"testing"

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
