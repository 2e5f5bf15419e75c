package dnslab

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The lab's Unbound validates: signed data carries AD, unsigned data does not, and a
// delegation with a wrong DS is bogus (SERVFAIL).
func TestLabValidates(t *testing.T) {
	l := Start(t,
		Zone{Name: "lab.test", Signed: true, Anchor: true, Lines: []string{
			"www A 127.0.0.1",
			"child NS ns.lab.test.",
			"child DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000",
		}},
		Zone{Name: "child.lab.test", Signed: true, Lines: []string{"www A 127.0.0.2"}},
		Zone{Name: "plain.test", Anchor: true, Lines: []string{"www A 127.0.0.3"}},
	)
	tests := []struct {
		name   string
		rcode  int
		secure bool
	}{
		{"www.lab.test.", dns.RcodeSuccess, true},
		{"missing.lab.test.", dns.RcodeNameError, true},
		{"www.plain.test.", dns.RcodeSuccess, false},
		{"www.child.lab.test.", dns.RcodeServerFailure, false},
	}
	for _, tt := range tests {
		m := new(dns.Msg)
		m.SetQuestion(tt.name, dns.TypeA)
		m.SetEdns0(1232, true)
		r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, l.Resolver)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if r.Rcode != tt.rcode || r.AuthenticatedData != tt.secure {
			t.Errorf("%s: rcode %s AD %v, want %s AD %v", tt.name, dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[tt.rcode], tt.secure)
		}
	}
}
