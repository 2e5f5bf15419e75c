package receiver

import "testing"

// RFC 7489 §3.1.1 relaxed alignment: the organizational domains (public suffix list) of
// the DKIM d= and of the report's submitter must be equal.
func TestAligned(t *testing.T) {
	for _, c := range []struct {
		d, submitter string
		want         bool
	}{
		{"example.com", "example.com", true},
		{"example.com.", "example.com", true},
		{"example.com", "mail.example.com", true},         // parent signs for a subdomain
		{"tlsrpt.example.com", "example.com", true},       // subdomain signs for the parent
		{"a.example.com", "b.example.com", true},          // siblings: same organization
		{"example.co.uk", "reports.example.co.uk", true},  // two-label public suffix
		{"co.uk", "victim.co.uk", false},                  // a public suffix is no organization
		{"attacker.co.uk", "victim.co.uk", false},         // two registrants under one suffix
		{"attacker.github.io", "victim.github.io", false}, // private section of the list
		{"example.net", "example.com", false},             // other organization
		{"notexample.com", "example.com", false},          // suffix of the text, not a label
		{"com", "example.com", false},                     // a TLD signs for nobody
	} {
		if got := aligned(c.d, c.submitter); got != c.want {
			t.Errorf("aligned(d=%s, submitter=%s) = %v, want %v", c.d, c.submitter, got, c.want)
		}
	}
}
