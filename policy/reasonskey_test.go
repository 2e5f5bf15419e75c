package policy

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dane"
)

// Decision.ReasonsKey: the same cached answer keeps its key and its reasons; a change of
// anything the reasons are rendered from changes the key (never the text alone); reasons
// that cannot be keyed say so.
func TestReasonsKey(t *testing.T) {
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
	resolve := func(p *Profile, key string) (*Decision, ReasonsKey) {
		t.Helper()
		var d Decision
		h.eng.ResolveInto(ctx, p, key, &d)
		k, ok := d.ReasonsKey()
		if !ok {
			t.Fatalf("%s %s: no reasons key", p.Name, key)
		}
		return &d, k
	}
	cases := []struct {
		p   *Profile
		key string
	}{
		{plain, "sts.example"}, {tlsrpt, "sts.example"}, {plain, "STS.example."}, {plain, "nopolicy.example"},
		{plain, "dane.example"}, {plain, "[dane.example]:587"}, {plain, "over.example"}, {dry, "sts.example"},
		{dry, "over.example"},
	}
	keys := map[ReasonsKey]string{}
	for _, c := range cases {
		resolve(c.p, c.key) // warm
		d1, k1 := resolve(c.p, c.key)
		d2, k2 := resolve(c.p, c.key)
		if k1 != k2 {
			t.Errorf("%s %s: two lookups of the same cached answer have different keys", c.p.Name, c.key)
		}
		if !slices.Equal(d1.Reasons(), d2.Reasons()) || len(d2.Reasons()) == 0 {
			t.Errorf("%s %s: equal keys, different (or no) reasons:\n%q\n%q", c.p.Name, c.key, d1.Reasons(), d2.Reasons())
		}
		if prev, dup := keys[k2]; dup {
			t.Errorf("%s %s has the key of %s", c.p.Name, c.key, prev)
		}
		keys[k2] = c.p.Name + " " + c.key
	}

	// Reloaded timers appear in MTA-STS reasons: a new key, even with equal values.
	_, before := resolve(plain, "sts.example")
	h.eng.SetSTSTimers(h.eng.STSTimers())
	if _, after := resolve(plain, "sts.example"); after == before {
		t.Error("the key survived a reload of the timers")
	}

	// A new policy id replaces the state: a new key and text naming the new id.
	d1, k1 := resolve(plain, "sts.example")
	h.sts("sts.example", "2", policyText("enforce", 86400, "mx1.sts.example"))
	h.clock.Advance(301 * time.Second) // the TXT record (TTL 300) is re-read
	resolve(plain, "sts.example")
	h.settle()
	d2, k2 := resolve(plain, "sts.example")
	if k1 == k2 || slices.Equal(d1.Reasons(), d2.Reasons()) {
		t.Fatalf("the policy changed, the key did not (%v) or the reasons did not:\n%q\n%q", k1 == k2, d1.Reasons(), d2.Reasons())
	}

	var d Decision
	h.eng.ResolveInto(ctx, plain, "[192.0.2.1]", &d)
	if _, ok := d.ReasonsKey(); ok {
		t.Error("a key that is not looked up (its error inside) has a reasons key")
	}
	d2.SetReasons([]string{"fixed"})
	if _, ok := d2.ReasonsKey(); ok {
		t.Error("reasons given as text have a key")
	}
}

// STSPolicy.Equal: two answers from the same held policy are equal; a policy differing
// in a field, or spelling out the text the other leaves canonical, is not.
func TestSTSPolicyEqual(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx1.sts.example", "*.sts.example"))
	ctx := context.Background()
	var a, b Decision
	h.eng.ResolveInto(ctx, plain, "sts.example", &a)
	h.eng.ResolveInto(ctx, plain, "sts.example", &b)
	if a.STS.IsZero() || !a.STS.Equal(&b.STS) {
		t.Fatalf("the same policy twice: %+v, %+v", a.STS, b.STS)
	}
	mx := b.STS
	mx.MX = []string{"mx1.sts.example"}
	id := b.STS
	id.ID = "2"
	spelled := b.STS
	spelled.Lines = b.STS.PolicyLines()
	spelled.canonical = false
	for name, p := range map[string]STSPolicy{"mx": mx, "id": id} {
		if a.STS.Equal(&p) {
			t.Errorf("a policy with another %s is equal", name)
		}
	}
	if a.STS.canonical && a.STS.Equal(&spelled) {
		t.Error("canonical and spelled-out text compare equal")
	}
}
