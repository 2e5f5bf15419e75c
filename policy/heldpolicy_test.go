package policy

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/mailtls/mailtls/mtasts"
)

// A packed policy unpacks to what it was given (nil Lines for a canonical text), and its
// plain reply is byte for byte the reply Decision renders from the policy's fields.
func TestPackPolicyRoundTrip(t *testing.T) {
	for _, body := range []string{
		policyText("enforce", 86400, "mx1.example.com", "mx2.example.com"),
		policyText("enforce", 604800, "*.mail.example.net", "backup.example.net"),
		policyText("testing", 3600, "*.example.org"),
		policyText("none", 0),
		"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\nx-ext: v\n", // not canonical
		"version: STSv1\nmax_age: 86400\nmode: enforce\nmx: mx.example.com\n",           // other order
	} {
		p, err := mtasts.ParsePolicy([]byte(body))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		h := packPolicy(p)
		want := *p
		if linesCanonical(p) {
			want.Lines = nil
		}
		if got := h.policy(); !reflect.DeepEqual(*got, want) {
			t.Errorf("%q: unpacked %+v, want %+v", body, *got, want)
		}
		if !h.equal(p, linesCanonical(p)) {
			t.Errorf("%q: not equal to the policy it was packed from", body)
		}
		match := make([]string, len(p.MX))
		for i, mx := range p.MX {
			match[i] = postfixMatch(mx)
		}
		if !reflect.DeepEqual(h.match(), match) && len(match) > 0 {
			t.Errorf("%q: match list %q, want %q", body, h.match(), match)
		}
		if p.Mode != mtasts.ModeNone {
			d := Decision{Result: OK, Level: "secure", Match: match, Servername: "hostname"}
			if h.reply != d.PostfixReply() {
				t.Errorf("%q: reply %q, want %q", body, h.reply, d.PostfixReply())
			}
		}
		// Patterns equal to their match pattern are cut out of the reply, not stored again.
		for i, mx := range h.MX {
			if mx == match[i] && !within(mx, h.reply) {
				t.Errorf("%q: pattern %q is a string of its own", body, mx)
			}
		}
	}
}

// within reports whether s's bytes lie inside t's.
func within(s, t string) bool {
	if len(s) == 0 {
		return true
	}
	ps, pt := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(t)))
	return ps >= pt && ps+uintptr(len(s)) <= pt+uintptr(len(t))
}

// The policy table shares equal policies, keeps different ones apart, prefers the
// domain's previous policy, and holds a fixed number of slots however many policies pass.
func TestPolicyTableShares(t *testing.T) {
	tab := newPolicyTable()
	parse := func(body string) *mtasts.Policy {
		p, err := mtasts.ParsePolicy([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := tab.held(parse(policyText("enforce", 86400, "*.mx.provider.example")), nil)
	if b := tab.held(parse(policyText("enforce", 86400, "*.mx.provider.example")), nil); b != a {
		t.Error("two equal policies are held twice")
	}
	for _, other := range []string{
		policyText("testing", 86400, "*.mx.provider.example"),
		policyText("enforce", 86401, "*.mx.provider.example"),
		policyText("enforce", 86400, "*.mx.provider.example", "backup.provider.example"),
		"version: STSv1\nmode: enforce\nmx: *.mx.provider.example\nmax_age: 86400\nx-ext: v\n",
	} {
		if b := tab.held(parse(other), nil); b == a || b.equal(parse(policyText("enforce", 86400, "*.mx.provider.example")), true) {
			t.Errorf("%q shares the policy of another", other)
		}
	}
	// A canonical text stated in full equals the same policy held without its lines.
	full := parse(policyText("enforce", 86400, "*.mx.provider.example"))
	if full.Lines == nil || tab.held(full, nil) != a {
		t.Error("a canonical text spelled out is not the policy held without it")
	}
	prev := packPolicy(parse(policyText("enforce", 86400, "*.mx.provider.example")))
	if tab.held(parse(policyText("enforce", 86400, "*.mx.provider.example")), prev) != prev {
		t.Error("the domain's previous, equal policy was not kept")
	}
	for i := range 3 * policyTableSize {
		tab.held(parse(policyText("enforce", 86400, "mx.d"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".example")), nil)
	}
	if len(tab.slots) != policyTableSize {
		t.Errorf("%d slots", len(tab.slots))
	}
}

// Loaded and fetched domains share one held policy per provider: what the hot store holds
// for domains hosted alike is one object, whichever path brought them in.
func TestPublishedPoliciesShared(t *testing.T) {
	h := newHarness(t, nil)
	body := policyText("enforce", 86400, "*.mx.provider.example")
	h.sts("a.example", "1", body)
	h.sts("b.example", "7", body)
	h.resolve(plain, "a.example")
	h.resolve(plain, "b.example")
	a, _ := h.eng.sts.Get("a.example")
	b, _ := h.eng.sts.Get("b.example")
	if a.Policy != b.Policy {
		t.Error("two domains fetched with one policy hold two copies")
	}
}

// Replies with TLSRPT attributes are kept only within their budget: evicted ones are
// rendered again, identical, and a kept one answers only for the state it was rendered
// from (a new policy is not answered with the old reply).
func TestTLSRPTRepliesWithinBudget(t *testing.T) {
	h := newHarness(t, nil)
	const n = 40
	domains := make([]string, n)
	for i := range domains {
		domains[i] = "d" + strings.Repeat("x", i) + ".example"
		h.sts(domains[i], "1", policyText("enforce", 86400, "mx."+domains[i]))
	}
	first := map[string]string{}
	for _, d := range domains {
		first[d] = h.resolve(tlsrpt, d).PostfixReply()
		if !strings.Contains(first[d], "policy_domain="+d+" ") {
			t.Fatalf("%s: %q", d, first[d])
		}
	}
	// Rebuild the engine, on the same policy hosts, with 32 hot-store shards (MaxEntries n) and a budget
	// whose TLSRPT share holds at most one reply per shard.
	eng, err := New(Options{Resolver: h.eng.opt.Resolver, Fetcher: h.eng.opt.Fetcher, Now: h.clock.Now, MaxEntries: n, MaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	for range 2 {
		for _, d := range domains {
			if got := h.resolve(tlsrpt, d).PostfixReply(); got != first[d] {
				t.Errorf("%s: %q, want %q", d, got, first[d])
			}
		}
	}
	if eng.tlsrpt.Len() >= n || eng.tlsrpt.Len() == 0 {
		t.Errorf("%d of %d replies kept within a budget for at most one per shard", eng.tlsrpt.Len(), n)
	}
	// A new policy under a new id: the reply follows it.
	d := domains[0]
	h.sts(d, "2", policyText("enforce", 86400, "new."+d))
	h.clock.Advance(400e9) // past the TXT TTL: the new id is read and its policy fetched
	h.eng.refreshSTS(context.Background(), d, false)
	if got := h.resolve(tlsrpt, d).PostfixReply(); !strings.Contains(got, "mx_host_pattern=new."+d) {
		t.Errorf("after a new policy: %q", got)
	}
}
