package policy

import "testing"

// conformance.md §4: the Postfix answer forms, with and without TLSRPT attributes.
func TestPostfixReply(t *testing.T) {
	sts := &STSPolicy{Domain: "example.com", ID: "1", Mode: "enforce", MaxAge: 86400,
		MX:    []string{"mx1.example.com", "*.example.net"},
		Lines: []string{"version: STSv1", "mode: enforce", "mx: mx1.example.com", "mx: *.example.net", "max_age: 86400", "ext: {x}"}}
	enforce := Decision{Result: OK, Level: "secure", Match: []string{"mx1.example.com", ".example.net"}, Servername: "hostname", STS: sts}
	withRPT := enforce
	withRPT.TLSRPT = true
	tests := []struct {
		name string
		d    Decision
		want string
	}{
		{"enforce, plain (Postfix ≤ 3.9)", enforce, "OK secure match=mx1.example.com:.example.net servername=hostname"},
		{"enforce, TLSRPT (Postfix ≥ 3.10); brace line left out", withRPT, "OK secure match=mx1.example.com:.example.net servername=hostname" +
			" policy_type=sts policy_domain=example.com policy_ttl=86400 mx_host_pattern=mx1.example.com mx_host_pattern=*.example.net" +
			" { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = mx: mx1.example.com }" +
			" { policy_string = mx: *.example.net } { policy_string = max_age: 86400 }"},
		{"dane-only carries no STS attributes", Decision{Result: OK, Level: "dane-only", TLSRPT: true}, "OK dane-only"},
		{"notfound", Decision{Result: NotFound}, "NOTFOUND "},
		{"temp keeps one line", Decision{Result: Temp, Message: "MX lookup failed:\nSERVFAIL"}, "TEMP MX lookup failed: SERVFAIL"},
	}
	for _, tt := range tests {
		if got := tt.d.PostfixReply(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestPostfixMatch(t *testing.T) {
	for in, want := range map[string]string{"*.example.com": ".example.com", "mx.example.com": "mx.example.com"} {
		if got := postfixMatch(in); got != want {
			t.Errorf("postfixMatch(%q) = %q, want %q", in, got, want)
		}
	}
}
