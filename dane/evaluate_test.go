package dane

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
)

// TestEvaluate runs each row of conformance.md §3 (and the RFC rules behind it) against an
// in-process validating resolver.
func TestEvaluate(t *testing.T) {
	tests := []struct {
		rule   string
		setup  func(s *dnstest.Server)
		eval   func(e *Evaluator)
		want   Outcome
		states []HostState // per host, in MX order; nil: not checked
		check  func(t *testing.T, s *dnstest.Server, r *Result)
	}{
		{
			rule: "§3 MX lookup SERVFAIL/bogus → TEMP (RFC 7672 §2.1.2)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
				s.SetMode("example.", dns.TypeMX, dnstest.Bogus)
			},
			want: TempFail,
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if len(r.Hosts) != 0 || r.TTL != 0 {
					t.Errorf("hosts %v ttl %d after a failed MX lookup", r.Hosts, r.TTL)
				}
				if n := s.QueryCount("_25._tcp.mx.example.", dns.TypeTLSA); n != 0 {
					t.Errorf("%d TLSA queries after a failed MX lookup", n)
				}
			},
		},
		{
			rule: "§3 MX lookup refused by every server → TEMP (RFC 7672 §2.1.2)",
			setup: func(s *dnstest.Server) {
				s.SetMode("example.", 0, dnstest.Refused)
			},
			want: TempFail,
		},
		{
			rule: "§3 NXDOMAIN → no DANE, no MTA-STS",
			setup: func(s *dnstest.Server) {
				s.Add("other.test. 300 IN A 192.0.2.9")
			},
			want: NoMail,
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				if r.TTL != 300 {
					t.Errorf("TTL %d, want the negative TTL 300", r.TTL)
				}
			},
		},
		{
			rule: "§3 null MX (RFC 7505 §3) → no DANE, no MTA-STS",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 0 .", "example. 300 IN A 192.0.2.1")
			},
			want: NoMail,
		},
		{
			rule: "§3 secure MX, every host secure usable TLSA → dane-only",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(daneHost("mx1.example.")...)
				s.Add(daneHost("mx2.example.")...)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE, HostDANE},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if !r.MXSecure || r.Implicit {
					t.Errorf("MXSecure %v Implicit %v", r.MXSecure, r.Implicit)
				}
				h := r.Hosts[0]
				if !h.AddrSecure || !h.TLSASecure || len(h.Addrs) != 1 || len(h.TLSA) != 1 || !h.TLSA[0].Usable {
					t.Errorf("host %+v", h)
				}
				if h.TLSABase != "mx1.example." || h.Target != "mx1.example." {
					t.Errorf("TLSA base %q target %q", h.TLSABase, h.Target)
				}
				if h.Preference != 10 || r.Hosts[1].Preference != 20 {
					t.Errorf("preferences %d, %d, want 10, 20", h.Preference, r.Hosts[1].Preference)
				}
				// The secure A records settle the addresses: AAAA is not asked (issue 19).
				if n := s.QueryCount("mx1.example.", dns.TypeAAAA) + s.QueryCount("mx2.example.", dns.TypeAAAA); n != 0 {
					t.Errorf("%d AAAA queries next to secure A records", n)
				}
			},
		},
		{
			rule: "§3 secure NODATA → implicit MX = the domain (RFC 5321 §5.1), with TLSA → dane-only",
			setup: func(s *dnstest.Server) {
				s.Add(daneHost("example.")...)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				if !r.Implicit || r.Hosts[0].Name != "example." {
					t.Errorf("Implicit %v hosts %+v", r.Implicit, r.Hosts)
				}
			},
		},
		{
			rule: "§3 insecure NODATA: implicit MX in an unsigned zone → no DANE",
			setup: func(s *dnstest.Server) {
				s.Add(daneHost("example.")...)
				s.SetMode("example.", 0, dnstest.Insecure)
			},
			want: NoDANE,
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if r.Implicit || len(r.Hosts) != 0 {
					t.Errorf("Implicit %v hosts %v", r.Implicit, r.Hosts)
				}
			},
		},
		{
			rule: "§3 secure MX, some hosts with secure TLSA, others without → dane",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(daneHost("mx1.example.")...)
				s.Add(plainHost("mx2.example.")...)
			},
			want:   DANE,
			states: []HostState{HostDANE, HostNoTLSA},
		},
		{
			rule: "§3 secure MX, DANE host next to a failed host → dane (a host is proven DANE)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(daneHost("mx1.example.")...)
				s.Add(daneHost("mx2.example.")...)
				s.SetMode("_25._tcp.mx2.example.", 0, dnstest.Bogus)
			},
			want:   DANE,
			states: []HostState{HostDANE, HostFailed},
		},
		{
			rule: "§3 secure MX, a host's TLSA lookup SERVFAIL, others without TLSA → lookup failed",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(daneHost("mx1.example.")...)
				s.Add(plainHost("mx2.example.")...)
				s.SetMode("_25._tcp.mx1.example.", dns.TypeTLSA, dnstest.Bogus)
			},
			want:   LookupFailed,
			states: []HostState{HostFailed, HostNoTLSA},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				if !errors.Is(r.Hosts[0].TLSAErr, dnsclient.ErrServFail) {
					t.Errorf("TLSAErr %v, want SERVFAIL", r.Hosts[0].TLSAErr)
				}
			},
		},
		{
			rule: "§3 secure MX, a host's address lookup SERVFAIL (both families) → lookup failed",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(daneHost("mx1.example.")...)
				s.Add(plainHost("mx2.example.")...)
				s.SetMode("mx1.example.", 0, dnstest.Bogus)
			},
			want:   LookupFailed,
			states: []HostState{HostFailed, HostNoTLSA},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if !errors.Is(r.Hosts[0].AddrErr, dnsclient.ErrServFail) {
					t.Errorf("AddrErr %v, want SERVFAIL", r.Hosts[0].AddrErr)
				}
				if n := s.QueryCount("_25._tcp.mx1.example.", dns.TypeTLSA); n != 0 {
					t.Errorf("%d TLSA queries behind failed addresses", n)
				}
			},
		},
		{
			rule: "§3 secure MX, every host proven without TLSA (validated denial) → no DANE",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(plainHost("mx1.example.")...)
				s.Add(plainHost("mx2.example.")...)
			},
			want:   NoDANE,
			states: []HostState{HostNoTLSA, HostNoTLSA},
		},
		{
			rule: "§3 secure MX, insecure addresses → no DANE, TLSA not looked up (RFC 7672 §2.2)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
				s.SetMode("mx.example.", 0, dnstest.Insecure)
			},
			want:   NoDANE,
			states: []HostState{HostNoTLSA},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if r.Hosts[0].AddrSecure || len(r.Hosts[0].Addrs) != 1 || r.Hosts[0].Addrs[0].Secure {
					t.Errorf("host %+v", r.Hosts[0])
				}
				// AAAA, in the same unsigned zone as the insecure A, cannot be secure.
				if n := s.QueryCount("mx.example.", dns.TypeAAAA); n != 0 {
					t.Errorf("%d AAAA queries next to an insecure A answer", n)
				}
				if n := s.QueryCount("_25._tcp.mx.example.", dns.TypeTLSA); n != 0 {
					t.Errorf("%d TLSA queries behind insecure addresses", n)
				}
			},
		},
		{
			rule: "RFC 7672 §2.2: an insecure TLSA RRset is treated as absent → no DANE",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
				s.SetMode("_25._tcp.mx.example.", 0, dnstest.Insecure)
			},
			want:   NoDANE,
			states: []HostState{HostNoTLSA},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				if r.Hosts[0].TLSASecure || len(r.Hosts[0].TLSA) != 1 {
					t.Errorf("host %+v", r.Hosts[0])
				}
			},
		},
		{
			rule: "§3 insecure MX, some host with secure usable TLSA → dane (RFC 7672 §2.2.1 MAY)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.provider.", "example. 300 IN MX 20 mx2.provider.")
				s.SetMode("example.", 0, dnstest.Insecure)
				s.Add(daneHost("mx1.provider.")...)
				s.Add(plainHost("mx2.provider.")...)
			},
			want:   InsecureMXDANE,
			states: []HostState{HostDANE, HostNoTLSA},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				if r.MXSecure {
					t.Error("MXSecure for an insecure MX RRset")
				}
			},
		},
		{
			rule: "§3 insecure MX, no TLSA anywhere → no DANE",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.")
				s.Add(plainHost("mx.example.")...)
				s.SetMode("example.", 0, dnstest.Insecure)
			},
			want: NoDANE,
		},
		{
			rule: "§3 insecure MX, only unusable TLSA → no DANE (only usable TLSA counts, RFC 7672 §2.2.1)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.provider.")
				s.SetMode("example.", 0, dnstest.Insecure)
				s.Add(plainHost("mx.provider.")...)
				s.Add("_25._tcp.mx.provider. 300 IN TLSA 1 1 1 " + sha256Hex)
			},
			want:   NoDANE,
			states: []HostState{HostDANEUnusable},
		},
		{
			rule: "§3 + RFC 7672 §3.1.3: only unusable TLSA (usage 1) on every host → dane, not dane-only",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
				s.Add(plainHost("mx1.example.")...)
				s.Add(plainHost("mx2.example.")...)
				s.Add("_25._tcp.mx1.example. 300 IN TLSA 1 1 1 "+sha256Hex,
					"_25._tcp.mx2.example. 300 IN TLSA 0 0 1 "+sha256Hex)
			},
			want:   DANE,
			states: []HostState{HostDANEUnusable, HostDANEUnusable},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				tl := r.Hosts[0].TLSA
				if len(tl) != 1 || tl[0].Usable || !strings.Contains(tl[0].Why, "RFC 7672 §3.1.3") {
					t.Errorf("TLSA %+v", tl)
				}
			},
		},
		{
			rule: "§3 failed AAAA next to a secure A does not spoil the host",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
				s.SetMode("mx.example.", dns.TypeAAAA, dnstest.Bogus)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				h := r.Hosts[0]
				if !h.AddrSecure || h.AddrErr != nil || len(h.Addrs) != 1 || h.Addrs[0].IP.String() != "192.0.2.1" {
					t.Errorf("host %+v", h)
				}
			},
		},
		{
			rule: "§3 failed A next to a secure AAAA does not spoil the host",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
				s.SetMode("mx.example.", dns.TypeA, dnstest.Timeout)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
		},
		{
			rule: "§3 IPv6-only host: no A records (secure NODATA), so AAAA is asked and decides",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.", "mx.example. 300 IN AAAA 2001:db8::1",
					"_25._tcp.mx.example. 300 IN TLSA 3 1 1 "+sha256Hex)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				h := r.Hosts[0]
				if !h.AddrSecure || len(h.Addrs) != 1 || h.Addrs[0].IP.String() != "2001:db8::1" {
					t.Errorf("host %+v", h)
				}
				if a, aaaa := s.QueryCount("mx.example.", dns.TypeA), s.QueryCount("mx.example.", dns.TypeAAAA); a != 1 || aaaa != 1 {
					t.Errorf("A queries %d, AAAA queries %d, want 1 each", a, aaaa)
				}
			},
		},
		{
			rule: "secure MX, a host with no address records at all next to a DANE host → dane",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 gone.example.")
				s.Add(daneHost("mx1.example.")...)
			},
			want:   DANE,
			states: []HostState{HostDANE, HostNoTLSA},
		},
		{
			rule: "§3 / RFC 7672 §2.2.2: CNAME'd MX host with a secure chain → TLSA at the target",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.", "mx.example. 300 IN CNAME mail.hoster.")
				s.Add(daneHost("mail.hoster.")...)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				h := r.Hosts[0]
				if h.Name != "mx.example." || h.Target != "mail.hoster." || h.TLSABase != "mail.hoster." {
					t.Errorf("name %q target %q base %q", h.Name, h.Target, h.TLSABase)
				}
				if n := s.QueryCount("_25._tcp.mx.example.", dns.TypeTLSA); n != 0 {
					t.Errorf("%d TLSA queries at the original name although the target had TLSA", n)
				}
			},
		},
		{
			rule: "RFC 7672 §2.2.2: no TLSA at the CNAME target → TLSA at the original name",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.", "mx.example. 300 IN CNAME mail.hoster.")
				s.Add(plainHost("mail.hoster.")...)
				s.Add("_25._tcp.mx.example. 300 IN TLSA 2 0 1 " + sha256Hex)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				h := r.Hosts[0]
				if h.Target != "mail.hoster." || h.TLSABase != "mx.example." {
					t.Errorf("target %q base %q", h.Target, h.TLSABase)
				}
				if n := s.QueryCount("_25._tcp.mail.hoster.", dns.TypeTLSA); n != 1 {
					t.Errorf("%d TLSA queries at the target, want 1 (first)", n)
				}
			},
		},
		{
			rule: "RFC 7672 §2.2: CNAME chain insecure → addresses insecure → no TLSA lookup",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx.example.", "mx.example. 300 IN CNAME mail.hoster.")
				s.Add(daneHost("mail.hoster.")...)
				s.SetMode("mx.example.", dns.TypeCNAME, dnstest.Insecure)
			},
			want:   NoDANE,
			states: []HostState{HostNoTLSA},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if r.Hosts[0].Target != "mx.example." {
					t.Errorf("target %q for an insecure chain, want the MX name", r.Hosts[0].Target)
				}
			},
		},
		{
			rule: "§3 TTL: the answer is cached for the minimum TTL of the RRsets it rests on",
			setup: func(s *dnstest.Server) {
				s.Add("example. 3600 IN MX 10 mx1.example.", "example. 3600 IN MX 20 mx2.example.",
					"mx1.example. 900 IN A 192.0.2.1", "mx1.example. 900 IN AAAA 2001:db8::1",
					"_25._tcp.mx1.example. 1800 IN TLSA 3 1 1 "+sha256Hex,
					"mx2.example. 900 IN CNAME mail.hoster.", "mail.hoster. 1200 IN A 192.0.2.7",
					"mail.hoster. 1200 IN AAAA 2001:db8::7",
					"_25._tcp.mail.hoster. 1200 IN CNAME tlsa.hoster.",
					"tlsa.hoster. 240 IN TLSA 3 1 1 "+sha256Hex)
				s.SetNegativeTTL(5000)
			},
			want: DANEOnly,
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				if r.TTL != 240 {
					t.Errorf("TTL %d, want 240 (the TLSA reached through a CNAME)", r.TTL)
				}
			},
		},
		{
			rule: "MaxHosts: hosts beyond the bound are not examined, so dane-only is unproven → dane",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.",
					"example. 300 IN MX 30 mx3.example.")
				for _, h := range []string{"mx1.example.", "mx2.example.", "mx3.example."} {
					s.Add(daneHost(h)...)
				}
			},
			eval:   func(e *Evaluator) { e.MaxHosts = 2 },
			want:   DANE,
			states: []HostState{HostDANE, HostDANE},
			check: func(t *testing.T, s *dnstest.Server, r *Result) {
				if n := s.QueryCount("mx3.example.", dns.TypeA); n != 0 {
					t.Errorf("%d queries for the host beyond MaxHosts", n)
				}
			},
		},
		{
			rule: "RFC 5321 §5.1: hosts in preference order, duplicates once; port 587 TLSA name (RFC 7672 §2.2.3)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 30 c.example.", "example. 300 IN MX 10 b.example.",
					"example. 300 IN MX 10 a.example.", "example. 300 IN MX 40 A.example.")
				for _, h := range []string{"a.example.", "b.example.", "c.example."} {
					s.Add(plainHost(h)...)
					s.Add("_587._tcp." + h + " 300 IN TLSA 3 0 1 " + sha256Hex)
				}
			},
			eval:   func(e *Evaluator) { e.Port = 587 },
			want:   DANEOnly,
			states: []HostState{HostDANE, HostDANE, HostDANE},
			check: func(t *testing.T, _ *dnstest.Server, r *Result) {
				var got []string
				for _, h := range r.Hosts {
					got = append(got, h.Name)
				}
				if strings.Join(got, " ") != "a.example. b.example. c.example." {
					t.Errorf("hosts %v", got)
				}
			},
		},
		{
			rule: "RFC 7505 §3: a null MX next to real MX records is not a null MX; the dot is skipped",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN MX 0 .", "example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
			},
			want:   DANEOnly,
			states: []HostState{HostDANE},
		},
		{
			rule: "MX via a secure CNAME (the resolver follows it)",
			setup: func(s *dnstest.Server) {
				s.Add("example. 300 IN CNAME mailzone.example.", "mailzone.example. 300 IN MX 10 mx.example.")
				s.Add(daneHost("mx.example.")...)
			},
			want: DANEOnly,
		},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			s := dnstest.New(t)
			tc.setup(s)
			e := newEvaluator(t, s)
			if tc.eval != nil {
				tc.eval(e)
			}
			r, err := e.Evaluate(context.Background(), "Example.")
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if r.Domain != "example" {
				t.Errorf("Domain %q", r.Domain)
			}
			if r.Outcome != tc.want {
				t.Errorf("outcome %v, want %v\n%s", r.Outcome, tc.want, strings.Join(r.Reasons, "\n"))
			}
			if tc.states != nil {
				if len(r.Hosts) != len(tc.states) {
					t.Fatalf("%d hosts, want %d: %+v", len(r.Hosts), len(tc.states), r.Hosts)
				}
				for i, h := range r.Hosts {
					if h.State != tc.states[i] {
						t.Errorf("host %s state %v, want %v", h.Name, h.State, tc.states[i])
					}
				}
			}
			if len(r.Reasons) == 0 || !strings.HasPrefix(r.Reasons[len(r.Reasons)-1], "outcome "+r.Outcome.String()) {
				t.Errorf("last reason should state the outcome: %q", r.Reasons)
			}
			if tc.check != nil {
				tc.check(t, s, r)
			}
		})
	}
}

// TestMXTimeoutBounded checks that a stalled resolver leads to TEMP within the client's
// timeout plus 2 s (conformance.md §3: "MX lookup timeout → TEMP").
func TestMXTimeoutBounded(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example. 300 IN MX 10 mx.example.")
	s.SetMode("example.", 0, dnstest.Timeout)
	e := newEvaluator(t, s)
	start := time.Now()
	r, err := e.Evaluate(context.Background(), "example")
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != TempFail {
		t.Errorf("outcome %v, want temp-fail", r.Outcome)
	}
	// UDP and a TCP retry may each use one attempt's timeout.
	if d := time.Since(start); d > 2*testTimeout+2*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestReasons checks that the explanation names the MX set, each host's TLSA RRset and
// the outcome, as an operator reads it in "mailtls query --explain".
func TestReasons(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.")
	s.Add(daneHost("mx1.example.")...)
	s.Add(plainHost("mx2.example.")...)
	s.Add("_25._tcp.mx1.example. 300 IN TLSA 1 1 1 "+sha256Hex,
		"_25._tcp.mx1.example. 300 IN TLSA 3 1 1 00")
	r, err := newEvaluator(t, s).Evaluate(context.Background(), "example")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(r.Reasons, "\n")
	for _, want := range []string{
		"MX example. secure: 10 mx1.example., 20 mx2.example.",
		"mx1.example.: A secure: 192.0.2.1",
		"mx1.example.: TLSA _25._tcp.mx1.example. secure, 1 usable of 3",
		"usage 1 (PKIX-EE) unusable for SMTP, RFC 7672 §3.1.3",
		"needs 32 octets of data, has 1",
		"mx2.example.: TLSA _25._tcp.mx2.example. does not exist (secure denial)",
		"outcome dane:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("reasons lack %q:\n%s", want, text)
		}
	}
}

// TestEvaluateErrors checks that only programming and context errors are errors.
func TestEvaluateErrors(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example. 300 IN MX 10 mx.example.")
	s.Add(daneHost("mx.example.")...)
	e := newEvaluator(t, s)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		rule   string
		e      *Evaluator
		ctx    context.Context
		domain string
		want   error
	}{
		{"no resolver is a programming error", &Evaluator{}, context.Background(), "example", ErrNoResolver},
		{"empty domain", e, context.Background(), "", ErrBadDomain},
		{"parent-domain probe", e, context.Background(), ".example", ErrBadDomain},
		{"label too long", e, context.Background(), strings.Repeat("a", 64) + ".example", ErrBadDomain},
		{"cancelled context", e, cancelled, "example", context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := tc.e.Evaluate(tc.ctx, tc.domain)
			if !errors.Is(err, tc.want) || r != nil {
				t.Errorf("got %v, %v; want error %v", r, err, tc.want)
			}
		})
	}
}
