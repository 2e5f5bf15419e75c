package policy

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/dnstest"
)

// fakeASN maps addresses to AS numbers.
type fakeASN map[string]uint32

func (f fakeASN) ASN(ip netip.Addr) (uint32, bool) { a, ok := f[ip.String()]; return a, ok }
func (f fakeASN) Close() error                     { return nil }

// Issue 5: ASN rules require at least a level for domains whose MX hosts' addresses all
// belong to listed networks; they apply where DANE and MTA-STS gave no answer.
func TestASNRules(t *testing.T) {
	db := fakeASN{"192.0.2.1": 64500, "192.0.2.2": 64500, "2001:db8::1": 64501, "198.51.100.1": 64999}
	rules := ASNRulesFromConfig(db, []config.ASNRule{
		{Name: "providers", ASNs: []uint32{64500, 64501}, Level: "encrypt"},
		{Name: "strict-provider", ASNs: []uint32{64501}, Level: "verify"},
	})
	tests := []struct {
		name, domain, want string
		source             Source
	}{
		{"every MX address in a listed AS → encrypt", "big.example", "OK encrypt", SourceASN},
		{"strongest matching rule wins", "v6.example", "OK verify match=hostname", SourceASN},
		{"one MX address outside → no rule", "mixed.example", "NOTFOUND ", SourceDefault},
		{"implicit MX (no MX records)", "implicit.example", "OK encrypt", SourceASN},
		{"MX lookup fails → no rule", "broken.example", "NOTFOUND ", SourceDefault},
		{"MTA-STS enforce decides first", "sts.example", "OK secure match=mx.sts.example servername=hostname", SourceMTASTS},
	}
	h := newHarness(t, nil)
	h.dns.Add(
		"big.example. 300 IN MX 10 mx1.big.example.", "big.example. 300 IN MX 20 mx2.big.example.",
		"mx1.big.example. 300 IN A 192.0.2.1", "mx2.big.example. 300 IN A 192.0.2.2",
		"v6.example. 300 IN MX 10 mx.v6.example.", "mx.v6.example. 300 IN AAAA 2001:db8::1",
		"mixed.example. 300 IN MX 10 mx1.big.example.", "mixed.example. 300 IN MX 20 mx.other.example.",
		"mx.other.example. 300 IN A 198.51.100.1",
		"implicit.example. 300 IN A 192.0.2.1",
		"broken.example. 300 IN MX 10 mx.broken.example.",
		"sts.example. 300 IN MX 10 mx1.big.example.",
	)
	h.dns.SetMode("broken.example.", 0, dnstest.Bogus)
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx.sts.example"))
	h.eng.SetASNRules(rules)
	for _, tt := range tests {
		d := h.resolve(plain, tt.domain)
		if got := d.PostfixReply(); got != tt.want || d.Source != tt.source {
			t.Errorf("%s: %q (%s), want %q (%s)\n%q", tt.name, got, d.Source, tt.want, tt.source, d.Reasons())
		}
	}
	// Cached: a second lookup asks no more MX questions.
	q := h.dns.Queries()
	if d := h.resolve(plain, "big.example"); d.Source != SourceASN || h.dns.Queries() != q {
		t.Errorf("second lookup: %s, %d new queries", d.Source, h.dns.Queries()-q)
	}
	// Report-only profiles record the rule's answer instead of giving it.
	if d := h.resolve(&Profile{Name: "dry", ReportOnly: true}, "big.example"); d.Result != NotFound || d.Would == nil || d.Would.Source != SourceASN {
		t.Errorf("report-only: %q would=%+v", d.PostfixReply(), d.Would)
	}
}

// conformance.md §1: for "[host]" and "[host]:port" Postfix connects to the host itself, so
// ASN rules judge the host's own addresses, never the MX set of a domain of the same name.
func TestASNRulesHostNexthop(t *testing.T) {
	db := fakeASN{"192.0.2.1": 64500, "198.51.100.1": 64999}
	rules := ASNRulesFromConfig(db, []config.ASNRule{{Name: "providers", ASNs: []uint32{64500}, Level: "encrypt"}})
	h := newHarness(t, nil)
	h.dns.Add(
		// relay.example's own address is in the listed AS, its MX host is not; other.example
		// is the reverse.
		"relay.example. 300 IN A 192.0.2.1", "relay.example. 300 IN MX 10 mx.outside.example.",
		"mx.outside.example. 300 IN A 198.51.100.1",
		"other.example. 300 IN A 198.51.100.1", "other.example. 300 IN MX 10 mx.inside.example.",
		"mx.inside.example. 300 IN A 192.0.2.1",
	)
	h.eng.SetASNRules(rules)
	for _, tt := range []struct{ key, want string }{
		{"relay.example", "NOTFOUND "},
		{"[relay.example]", "OK encrypt"},
		{"[relay.example]:587", "OK encrypt"},
		{"relay.example:587", "NOTFOUND "},
		{"other.example", "OK encrypt"},
		{"[other.example]", "NOTFOUND "},
	} {
		if got := h.resolve(plain, tt.key).PostfixReply(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.key, got, tt.want)
		}
	}
	if n := h.dns.QueryCount("relay.example.", dns.TypeMX); n != 1 {
		t.Errorf("%d MX queries for relay.example: only the bare domain key asks the MX set", n)
	}
}
