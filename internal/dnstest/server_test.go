package dnstest

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// query asks s over the given transport ("udp" or "tcp"), with EDNS0 and DO when edns.
func query(t *testing.T, s *Server, network, name string, qtype uint16, edns bool, ad bool) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.AuthenticatedData = ad
	if edns {
		m.SetEdns0(1232, true)
	}
	c := &dns.Client{Net: network, Timeout: 500 * time.Millisecond}
	r, _, err := c.ExchangeContext(context.Background(), m, s.Addr)
	return r, err
}

func TestModes(t *testing.T) {
	s := New(t)
	s.Add("secure.example. 300 IN A 192.0.2.1",
		"insecure.example. 300 IN A 192.0.2.2",
		"bogus.example. 300 IN A 192.0.2.3",
		"stall.example. 300 IN A 192.0.2.4",
		"refused.example. 300 IN A 192.0.2.5",
		"mixed.example. 300 IN A 192.0.2.6",
		"mixed.example. 300 IN AAAA 2001:db8::6")
	s.SetMode("Insecure.Example", 0, Insecure)
	s.SetMode("bogus.example.", 0, Bogus)
	s.SetMode("stall.example.", 0, Timeout)
	s.SetMode("refused.example.", 0, Refused)
	s.SetMode("mixed.example.", dns.TypeAAAA, Bogus)

	tests := []struct {
		rule      string
		name      string
		qtype     uint16
		network   string
		edns, ad  bool
		wantRcode int
		wantAD    bool
		wantN     int
		wantTO    bool
	}{
		{"RFC 4035 §3.2.3: secure data, DO=1 → AD=1", "secure.example.", dns.TypeA, "udp", true, false, dns.RcodeSuccess, true, 1, false},
		{"RFC 6840 §5.7: AD=1 in query without DO → AD=1", "secure.example.", dns.TypeA, "udp", false, true, dns.RcodeSuccess, true, 1, false},
		{"RFC 6840 §5.7: neither DO nor AD → AD=0", "secure.example.", dns.TypeA, "udp", false, false, dns.RcodeSuccess, false, 1, false},
		{"names are case-insensitive (RFC 4343)", "SECURE.Example.", dns.TypeA, "tcp", true, false, dns.RcodeSuccess, true, 1, false},
		{"insecure data → AD=0", "insecure.example.", dns.TypeA, "udp", true, true, dns.RcodeSuccess, false, 1, false},
		{"RFC 4035 §5.5: bogus data → SERVFAIL", "bogus.example.", dns.TypeA, "udp", true, false, dns.RcodeServerFailure, false, 0, false},
		{"Refused mode → REFUSED", "refused.example.", dns.TypeA, "tcp", true, false, dns.RcodeRefused, false, 0, false},
		{"Timeout mode over UDP → no reply", "stall.example.", dns.TypeA, "udp", true, false, 0, false, 0, true},
		{"Timeout mode over TCP → no reply", "stall.example.", dns.TypeA, "tcp", true, false, 0, false, 0, true},
		{"type-specific mode: A stays secure", "mixed.example.", dns.TypeA, "udp", true, false, dns.RcodeSuccess, true, 1, false},
		{"type-specific mode: AAAA bogus", "mixed.example.", dns.TypeAAAA, "udp", true, false, dns.RcodeServerFailure, false, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := query(t, s, tc.network, tc.name, tc.qtype, tc.edns, tc.ad)
			if tc.wantTO {
				var ne net.Error
				if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("want timeout, got reply %v err %v", r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.wantRcode || r.AuthenticatedData != tc.wantAD || len(r.Answer) != tc.wantN {
				t.Fatalf("rcode %s AD %v answers %d; want %s %v %d",
					dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(r.Answer),
					dns.RcodeToString[tc.wantRcode], tc.wantAD, tc.wantN)
			}
			if tc.edns && r.IsEdns0() == nil {
				t.Fatal("RFC 6891 §7: EDNS0 not echoed")
			}
			if !tc.edns && r.IsEdns0() != nil {
				t.Fatal("OPT in reply to a query without EDNS0")
			}
		})
	}
	if got := s.QueryCount("stall.example", dns.TypeA); got != 2 {
		t.Errorf("QueryCount(stall.example, A) = %d, want 2", got)
	}
	if got := s.Queries(); got != len(tests) {
		t.Errorf("Queries() = %d, want %d", got, len(tests))
	}
}

func TestNegativeAndCNAME(t *testing.T) {
	s := New(t)
	s.SetNegativeTTL(120)
	s.Add("host.example. 300 IN A 192.0.2.1",
		"a.b.example. 300 IN A 192.0.2.9",
		"c1.example. 300 IN CNAME c2.example.",
		"c2.example. 200 IN CNAME host.example.",
		"ci.example. 300 IN CNAME insec.example.",
		"insec.example. 300 IN A 192.0.2.7",
		"loop1.example. 300 IN CNAME loop2.example.",
		"loop2.example. 300 IN CNAME loop1.example.",
		"dangling.example. 300 IN CNAME nowhere.example.")
	s.SetMode("insec.example.", 0, Insecure)

	tests := []struct {
		rule      string
		name      string
		qtype     uint16
		wantRcode int
		wantAD    bool
		wantTypes string // answer record types in order
		wantSOA   bool
	}{
		{"RFC 2308 §2.1: no records at all → NXDOMAIN with SOA", "none.example.", dns.TypeA, dns.RcodeNameError, true, "", true},
		{"RFC 2308 §2.2: records of another type → NODATA with SOA", "host.example.", dns.TypeAAAA, dns.RcodeSuccess, true, "", true},
		{"RFC 8020 §2: empty non-terminal → NODATA", "b.example.", dns.TypeA, dns.RcodeSuccess, true, "", true},
		{"RFC 1034 §4.3.2: CNAME chain then target", "c1.example.", dns.TypeA, dns.RcodeSuccess, true, "CNAME CNAME A", false},
		{"RFC 1034 §3.6.2: CNAME asked directly is not followed", "c1.example.", dns.TypeCNAME, dns.RcodeSuccess, true, "CNAME", false},
		{"RFC 4035 §3.2.3: insecure link in the chain → AD=0", "ci.example.", dns.TypeA, dns.RcodeSuccess, false, "CNAME A", false},
		{"CNAME loop: chain returned as far as it went", "loop1.example.", dns.TypeA, dns.RcodeSuccess, true, "CNAME CNAME", false},
		{"RFC 6604 §2: dangling CNAME → NXDOMAIN for the target", "dangling.example.", dns.TypeA, dns.RcodeNameError, true, "CNAME", true},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := query(t, s, "udp", tc.name, tc.qtype, true, false)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, rr := range r.Answer {
				types = append(types, dns.TypeToString[rr.Header().Rrtype])
			}
			if r.Rcode != tc.wantRcode || r.AuthenticatedData != tc.wantAD || strings.Join(types, " ") != tc.wantTypes {
				t.Fatalf("rcode %s AD %v answer %q; want %s %v %q", dns.RcodeToString[r.Rcode],
					r.AuthenticatedData, strings.Join(types, " "), dns.RcodeToString[tc.wantRcode], tc.wantAD, tc.wantTypes)
			}
			if !tc.wantSOA {
				return
			}
			if len(r.Ns) != 1 {
				t.Fatalf("authority has %d records, want the SOA", len(r.Ns))
			}
			soa, ok := r.Ns[0].(*dns.SOA)
			if !ok || soa.Hdr.Ttl != 120 || soa.Minttl != 120 {
				t.Fatalf("authority %v, want SOA with TTL and MINIMUM 120", r.Ns[0])
			}
		})
	}
}

// An empty non-terminal stops being one when the last name below it is removed, and a
// name with records of its own is not one (the count behind isEmptyNonTerminal).
func TestEmptyNonTerminalFollowsRemove(t *testing.T) {
	s := New(t)
	s.Add("a.b.example. 300 IN A 192.0.2.9", "x.a.b.example. 300 IN TXT \"t\"")
	rcode := func(name string) int {
		t.Helper()
		r, err := query(t, s, "udp", name, dns.TypeA, true, false)
		if err != nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	if got := rcode("b.example."); got != dns.RcodeSuccess {
		t.Fatalf("b.example. with names below it: %s, want NODATA", dns.RcodeToString[got])
	}
	s.Remove("x.a.b.example.", 0)
	if got := rcode("b.example."); got != dns.RcodeSuccess {
		t.Fatalf("b.example. with a.b.example. still below: %s, want NODATA", dns.RcodeToString[got])
	}
	s.Remove("a.b.example.", dns.TypeA)
	for _, name := range []string{"b.example.", "a.b.example."} {
		if got := rcode(name); got != dns.RcodeNameError {
			t.Errorf("%s after every name below was removed: %s, want NXDOMAIN", name, dns.RcodeToString[got])
		}
	}
}

func TestTruncationAndDelay(t *testing.T) {
	s := New(t)
	for i := range 20 {
		s.Add("big.example. 300 IN TXT \"" + strings.Repeat(string(rune('a'+i)), 200) + "\"")
	}
	// RFC 6891 §6.2.5 / RFC 7766 §5: a reply larger than the client's UDP size is
	// truncated with TC=1 and comes whole over TCP.
	r, err := query(t, s, "udp", "big.example.", dns.TypeTXT, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Answer) == 20 {
		t.Fatalf("UDP reply TC=%v with %d answers; want TC=1 and fewer than 20", r.Truncated, len(r.Answer))
	}
	r, err = query(t, s, "tcp", "big.example.", dns.TypeTXT, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 20 {
		t.Fatalf("TCP reply TC=%v with %d answers; want all 20", r.Truncated, len(r.Answer))
	}

	s.SetDelay(300 * time.Millisecond)
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	m := new(dns.Msg).SetQuestion("big.example.", dns.TypeTXT)
	if _, _, err := c.Exchange(m, s.Addr); err == nil {
		t.Fatal("reply came before the configured delay")
	}
}

func TestHandlerOverride(t *testing.T) {
	s := New(t)
	s.Add("x.example. 300 IN A 192.0.2.1")
	s.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
		_, _ = w.Write([]byte{0xde, 0xad})
		return true
	})
	if r, err := query(t, s, "udp", "x.example.", dns.TypeA, true, false); err == nil {
		t.Fatalf("garbage reply parsed: %v", r)
	}
	s.SetHandler(nil)
	if _, err := query(t, s, "udp", "x.example.", dns.TypeA, true, false); err != nil {
		t.Fatalf("after removing the handler: %v", err)
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		rule      string
		qtype     uint16
		wantA     int // rcode for A after removal
		wantTXT   int // answers for TXT after removal
		wantRcode int
	}{
		{"removing one type leaves the others (NODATA for the removed type)", dns.TypeA, 0, 1, dns.RcodeSuccess},
		{"qtype 0 removes the name (NXDOMAIN, RFC 2308 §2.1)", 0, 0, 0, dns.RcodeNameError},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			s := New(t)
			s.Add("r.example. 300 IN A 192.0.2.1", "r.example. 300 IN TXT \"v=1\"")
			s.Remove("R.example", tc.qtype)
			a, err := query(t, s, "udp", "r.example.", dns.TypeA, true, false)
			if err != nil {
				t.Fatal(err)
			}
			txt, err := query(t, s, "udp", "r.example.", dns.TypeTXT, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Answer) != tc.wantA || len(txt.Answer) != tc.wantTXT || a.Rcode != tc.wantRcode {
				t.Fatalf("A answers %d rcode %s, TXT answers %d; want %d %s %d", len(a.Answer),
					dns.RcodeToString[a.Rcode], len(txt.Answer), tc.wantA, dns.RcodeToString[tc.wantRcode], tc.wantTXT)
			}
		})
	}
}
