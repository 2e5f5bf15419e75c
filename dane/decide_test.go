package dane

import "testing"

// TestDecide checks the domain-level table of conformance.md §3 on host states alone.
func TestDecide(t *testing.T) {
	const (
		D = HostDANE
		U = HostDANEUnusable
		N = HostNoTLSA
		F = HostFailed
	)
	tests := []struct {
		rule      string
		secure    bool
		truncated bool
		states    []HostState
		want      Outcome
	}{
		{"secure MX, every host usable TLSA → dane-only", true, false, []HostState{D, D, D}, DANEOnly},
		{"secure MX, one host usable TLSA → dane-only", true, false, []HostState{D}, DANEOnly},
		{"secure MX, all usable but hosts left unexamined → dane", true, true, []HostState{D, D}, DANE},
		{"secure MX, some with TLSA, others without → dane", true, false, []HostState{D, N}, DANE},
		{"secure MX, usable and unusable TLSA → dane (RFC 7672 §3.1.3)", true, false, []HostState{D, U}, DANE},
		{"secure MX, only unusable TLSA → dane (TLS mandatory, unauthenticated)", true, false, []HostState{U, U}, DANE},
		{"secure MX, unusable TLSA next to failed host → dane", true, false, []HostState{U, F}, DANE},
		{"secure MX, DANE host next to failed host → dane (a host is proven DANE)", true, false, []HostState{F, D}, DANE},
		{"secure MX, failed host, none proven DANE → lookup failed", true, false, []HostState{N, F}, LookupFailed},
		{"secure MX, every host failed → lookup failed", true, false, []HostState{F, F}, LookupFailed},
		{"secure MX, every host proven without TLSA → no DANE", true, false, []HostState{N, N}, NoDANE},
		{"secure MX, no host → no DANE", true, false, nil, NoDANE},
		{"insecure MX, a host with secure usable TLSA → insecure-mx-dane (RFC 7672 §2.2.1)", false, false, []HostState{N, D}, InsecureMXDANE},
		{"insecure MX, only unusable TLSA → no DANE", false, false, []HostState{U}, NoDANE},
		{"insecure MX, failures do not matter → no DANE", false, false, []HostState{F, N}, NoDANE},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			hosts := make([]Host, len(tc.states))
			for i, s := range tc.states {
				hosts[i].State = s
			}
			var got Outcome
			var why string
			if tc.secure {
				got, why = decideSecure(hosts, tc.truncated)
			} else {
				got, why = decideInsecure(hosts)
			}
			if got != tc.want || why == "" {
				t.Errorf("got %v (%q), want %v", got, why, tc.want)
			}
		})
	}
}

// TestStrings checks the names used in reasons, logs and metrics.
func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{NoDANE.String(), "no-dane"},
		{DANEOnly.String(), "dane-only"},
		{DANE.String(), "dane"},
		{LookupFailed.String(), "lookup-failed"},
		{InsecureMXDANE.String(), "insecure-mx-dane"},
		{TempFail.String(), "temp-fail"},
		{NoMail.String(), "no-mail"},
		{Outcome(42).String(), "outcome(42)"},
		{HostDANE.String(), "dane"},
		{HostDANEUnusable.String(), "dane-unusable"},
		{HostNoTLSA.String(), "no-tlsa"},
		{HostFailed.String(), "failed"},
		{HostState(-1).String(), "hoststate(-1)"},
		{TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: "ab"}.String(), "3 1 1 ab"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
