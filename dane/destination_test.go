package dane

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// conformance.md §1: "[host]" and "[host]:port" make Postfix connect to host itself with no
// MX lookup, so DANE is evaluated for that host alone, with TLSA at _<port>._tcp.<host>
// (RFC 7672 §2.2.2 non-MX destinations, RFC 6698 §3); "domain:port" keeps the MX lookup
// and asks _<port>._tcp.<mx>.
func TestEvaluateDestination(t *testing.T) {
	// relay.example. is both a host and a domain whose MX set points elsewhere, with DANE:
	// the verdict of that MX set must never be given to "[relay.example]".
	base := func(s *dnstest.Server) {
		s.Add("relay.example. 300 IN MX 10 mx.other.example.")
		s.Add(daneHost("mx.other.example.")...)
		s.Add("relay.example. 300 IN A 192.0.2.7")
	}
	tests := []struct {
		rule      string
		setup     func(s *dnstest.Server)
		dst       Destination
		want      Outcome
		tlsaQuery string // the TLSA name that must have been asked, if any
		noTLSA    string // a TLSA name that must not have been asked
	}{
		{"[host] without TLSA: no DANE, whatever the MX set of the same name says (§2.2.2)", base,
			Destination{Name: "relay.example", Host: true}, NoDANE, "_25._tcp.relay.example.", "_25._tcp.mx.other.example."},
		{"[host] with usable TLSA at _25._tcp.host → dane-only", func(s *dnstest.Server) {
			base(s)
			s.Add("_25._tcp.relay.example. 300 IN TLSA 3 1 1 " + sha256Hex)
		}, Destination{Name: "relay.example", Host: true}, DANEOnly, "_25._tcp.relay.example.", ""},
		{"[host]:587 with TLSA only at _25: no DANE (RFC 6698 §3: the port is part of the name)", func(s *dnstest.Server) {
			base(s)
			s.Add("_25._tcp.relay.example. 300 IN TLSA 3 1 1 " + sha256Hex)
		}, Destination{Name: "relay.example", Host: true, Port: 587}, NoDANE, "_587._tcp.relay.example.", "_25._tcp.relay.example."},
		{"[host]:587 with usable TLSA at _587._tcp.host → dane-only", func(s *dnstest.Server) {
			base(s)
			s.Add("_587._tcp.relay.example. 300 IN TLSA 3 1 1 " + sha256Hex)
		}, Destination{Name: "relay.example", Host: true, Port: 587}, DANEOnly, "_587._tcp.relay.example.", ""},
		{"[host] whose secure TLSA RRset has no usable record → dane (§3.1.3)", func(s *dnstest.Server) {
			base(s)
			s.Add("_25._tcp.relay.example. 300 IN TLSA 1 1 1 " + sha256Hex)
		}, Destination{Name: "relay.example", Host: true}, DANE, "_25._tcp.relay.example.", ""},
		{"[host] with insecure addresses: TLSA not asked, no DANE (§2.2)", func(s *dnstest.Server) {
			base(s)
			s.Add("_25._tcp.relay.example. 300 IN TLSA 3 1 1 " + sha256Hex)
			s.SetMode("relay.example.", dns.TypeA, dnstest.Insecure)
			s.SetMode("relay.example.", dns.TypeAAAA, dnstest.Insecure)
		}, Destination{Name: "relay.example", Host: true}, NoDANE, "", "_25._tcp.relay.example."},
		{"[host] whose TLSA lookup fails → lookup failed (§2.1.2)", func(s *dnstest.Server) {
			base(s)
			s.SetMode("_25._tcp.relay.example.", dns.TypeTLSA, dnstest.Bogus)
		}, Destination{Name: "relay.example", Host: true}, LookupFailed, "_25._tcp.relay.example.", ""},
		{"[host] that does not exist: no DANE", func(s *dnstest.Server) {},
			Destination{Name: "relay.example", Host: true}, NoDANE, "", ""},
		{"domain:587 keeps the MX lookup and asks _587._tcp.<mx>", func(s *dnstest.Server) {
			base(s)
			s.Add("_587._tcp.mx.other.example. 300 IN TLSA 3 1 1 " + sha256Hex)
		}, Destination{Name: "relay.example", Port: 587}, DANEOnly, "_587._tcp.mx.other.example.", "_25._tcp.mx.other.example."},
		{"domain:587 with TLSA only at _25._tcp.<mx>: no DANE", base,
			Destination{Name: "relay.example", Port: 587}, NoDANE, "_587._tcp.mx.other.example.", "_25._tcp.mx.other.example."},
		{"domain (port 25) uses the MX set", base,
			Destination{Name: "relay.example"}, DANEOnly, "_25._tcp.mx.other.example.", "_25._tcp.relay.example."},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			s := dnstest.New(t)
			tc.setup(s)
			r, err := newEvaluator(t, s).EvaluateDestination(context.Background(), tc.dst)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != tc.want {
				t.Errorf("outcome %v, want %v\n%s", r.Outcome, tc.want, strings.Join(r.Reasons, "\n"))
			}
			if tc.dst.Host {
				if n := s.QueryCount("relay.example.", dns.TypeMX); n != 0 {
					t.Errorf("%d MX queries for a host next-hop", n)
				}
				if !r.NoMX || len(r.Hosts) != 1 || r.Hosts[0].Name != "relay.example." {
					t.Errorf("NoMX %v hosts %+v, want the host alone", r.NoMX, r.Hosts)
				}
			}
			if tc.tlsaQuery != "" && s.QueryCount(tc.tlsaQuery, dns.TypeTLSA) == 0 {
				t.Errorf("%s TLSA was not asked", tc.tlsaQuery)
			}
			if tc.noTLSA != "" && s.QueryCount(tc.noTLSA, dns.TypeTLSA) != 0 {
				t.Errorf("%s TLSA was asked", tc.noTLSA)
			}
			want := 25
			if tc.dst.Port != 0 {
				want = tc.dst.Port
			}
			if r.Port != want {
				t.Errorf("Port %d, want %d", r.Port, want)
			}
			if len(r.Reasons) == 0 || !strings.HasPrefix(r.Reasons[len(r.Reasons)-1], "outcome "+r.Outcome.String()) {
				t.Errorf("last reason should state the outcome: %q", r.Reasons)
			}
		})
	}
}
