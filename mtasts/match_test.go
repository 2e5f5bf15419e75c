package mtasts

import "testing"

func TestMatchMX(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		host    string
		want    bool
	}{
		{"§4.1 exact name", "mail.example.com", "mail.example.com", true},
		{"§4.1 other name", "mail.example.com", "mx.example.com", false},
		{"§4.1 exact name is not a suffix match", "example.com", "mail.example.com", false},
		{"§4.1 wildcard one extra label", "*.example.com", "mail.example.com", true},
		{"§4.1 wildcard does not match the bare domain", "*.example.com", "example.com", false},
		{"§4.1 wildcard matches only one label", "*.example.com", "a.b.example.com", false},
		{"§4.1 wildcard other domain", "*.example.com", "mail.example.net", false},
		{"§4.1 wildcard suffix is label-aligned", "*.example.com", "mail.badexample.com", false},
		{"§4.1 wildcard needs a non-empty label", "*.example.com", ".example.com", false},
		{"§4.1 literal * host does not match wildcard", "*.example.com", "*.example.com", false},
		{"conformance §5 case-insensitive host", "mail.example.com", "MAIL.Example.COM", true},
		{"conformance §5 case-insensitive pattern", "*.EXAMPLE.com", "Mail.example.COM", true},
		{"conformance §5 trailing dot on host", "mail.example.com", "mail.example.com.", true},
		{"conformance §5 trailing dot on pattern", "*.example.com.", "mail.example.com", true},
		{"conformance §5 trailing dots on both", "mail.example.com.", "mail.example.com.", true},
		{"conformance §5 IDN host U-label vs A-label pattern", "mx.xn--bcher-kva.example", "mx.bücher.example", true},
		{"conformance §5 IDN host U-label, upper case", "mx.xn--bcher-kva.example", "MX.BÜCHER.example", true},
		{"conformance §5 IDN wildcard", "*.xn--bcher-kva.example", "mx.bücher.example", true},
		{"conformance §5 IDN A-label both", "xn--bcher-kva.example", "XN--BCHER-KVA.example", true},
		{"conformance §5 IDN different name", "mx.xn--bcher-kva.example", "mx.bucher.example", false},
		{"conformance §5 IDN U-label label under wildcard", "*.example.com", "bücher.example.com", true},
		{"conformance §5 invalid U-label never matches", "mx.xn--abc-jdc.com", "mx.\u0301abc.com", false},
		{"conformance §5 IDNA maps ignorable code points", "mx.example.com", "mx.exa\u200bmple.com", true},
		{"empty host", "mail.example.com", "", false},
		{"empty pattern", "", "mail.example.com", false},
		{"bare wildcard", "*", "com", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchMX(tc.pattern, tc.host); got != tc.want {
				t.Fatalf("MatchMX(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
			}
		})
	}
}

func TestPolicyMatch(t *testing.T) {
	p, err := ParsePolicy([]byte("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 86400\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"§4.1 first pattern", "mail.example.com", true},
		{"§4.1 second pattern, wildcard", "mx1.example.net", true},
		{"§4.1 wildcard parent", "example.net", false},
		{"§4.1 no pattern", "mx.example.org", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Match(tc.host); got != tc.want {
				t.Fatalf("Match(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
	none := &Policy{Version: PolicyVersion, Mode: ModeNone}
	if none.Match("mail.example.com") {
		t.Fatal("a policy without mx matched a host")
	}
}
