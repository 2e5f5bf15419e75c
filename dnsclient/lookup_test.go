package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/miekg/dns"
)

func TestLookup(t *testing.T) {
	s := dnstest.New(t)
	s.SetNegativeTTL(120)
	s.Add(
		"mx.example. 300 IN A 192.0.2.1",
		"mx.example. 100 IN A 192.0.2.2",
		"insecure.example. 300 IN A 192.0.2.3",
		"a.b.example. 300 IN A 192.0.2.4",
		"c1.example. 300 IN CNAME C2.example.",
		"c2.example. 200 IN CNAME mx.example.",
		"ci.example. 300 IN CNAME insecure.example.",
		"loop1.example. 300 IN CNAME loop2.example.",
		"loop2.example. 300 IN CNAME loop1.example.",
		"dangling.example. 300 IN CNAME none.example.",
	)
	s.SetMode("insecure.example.", 0, dnstest.Insecure)
	// long8: 8 CNAMEs, the most Lookup follows; the test server stops its own chain
	// after 8 steps, so the final target has to be asked again. long9: one too many.
	for i := range 9 {
		s.Add(fmt.Sprintf("l%d.long8.example. 300 IN CNAME l%d.long8.example.", i, i+1))
		s.Add(fmt.Sprintf("l%d.long9.example. 300 IN CNAME l%d.long9.example.", i, i+1))
	}
	s.Add("l8.long8.example. 300 IN A 192.0.2.8", "l9.long9.example. 300 IN A 192.0.2.9")
	s.SetMode("l8.long8.example.", 0, dnstest.Insecure)
	c := newClient(t, s)

	tests := []struct {
		rule    string
		name    string
		qtype   uint16
		wantErr error
		rcode   int
		nrec    int
		secure  bool
		ttl     uint32
		final   string
		cnames  int
		requery string // a name that must have been asked separately
	}{
		{"RFC 4035 §3.2.3: secure answer carries AD → Secure", "MX.Example", dns.TypeA, nil, dns.RcodeSuccess, 2, true, 100, "mx.example.", 0, ""},
		{"RFC 7672 §2.1: AD=0 → not Secure", "insecure.example.", dns.TypeA, nil, dns.RcodeSuccess, 1, false, 300, "insecure.example.", 0, ""},
		{"RFC 2308 §5: NXDOMAIN, TTL from SOA", "none.example.", dns.TypeA, nil, dns.RcodeNameError, 0, true, 120, "none.example.", 0, ""},
		{"RFC 2308 §5: NODATA, TTL from SOA", "mx.example.", dns.TypeAAAA, nil, dns.RcodeSuccess, 0, true, 120, "mx.example.", 0, ""},
		{"RFC 8020 §2: empty non-terminal is NODATA", "b.example.", dns.TypeA, nil, dns.RcodeSuccess, 0, true, 120, "b.example.", 0, ""},
		{"RFC 1034 §3.6.2: CNAME chain followed, TTL is the chain minimum", "c1.example.", dns.TypeA, nil, dns.RcodeSuccess, 2, true, 100, "mx.example.", 2, ""},
		{"RFC 1034 §3.6.2: CNAME asked directly is returned, not followed", "c1.example.", dns.TypeCNAME, nil, dns.RcodeSuccess, 1, true, 300, "c1.example.", 0, ""},
		{"RFC 7672 §2.1: one insecure link → not Secure", "ci.example.", dns.TypeA, nil, dns.RcodeSuccess, 1, false, 300, "insecure.example.", 1, ""},
		{"RFC 6604 §2: NXDOMAIN at the chain's end", "dangling.example.", dns.TypeA, nil, dns.RcodeNameError, 0, true, 120, "none.example.", 1, ""},
		{"chain cut by the server: final target asked again; its AD counts", "l0.long8.example.", dns.TypeA, nil, dns.RcodeSuccess, 1, false, 300, "l8.long8.example.", 8, "l8.long8.example."},
		{"more than 8 CNAMEs → ErrCNAMELoop", "l0.long9.example.", dns.TypeA, ErrCNAMELoop, 0, 0, false, 0, "", 0, ""},
		{"CNAME loop → ErrCNAMELoop", "loop1.example.", dns.TypeA, ErrCNAMELoop, 0, 0, false, 0, "", 0, ""},
		{"invalid name is refused before any query", "bad..name", dns.TypeA, ErrBadName, 0, 0, false, 0, "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			res, err := c.Lookup(context.Background(), tc.name, tc.qtype)
			if tc.wantErr != nil {
				var le *LookupError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &le) {
					t.Fatalf("err = %v, want a LookupError matching %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Question != strings.ToLower(dns.Fqdn(tc.name)) || res.Name != tc.final {
				t.Errorf("Question %q Name %q, want %q %q", res.Question, res.Name, strings.ToLower(dns.Fqdn(tc.name)), tc.final)
			}
			if res.Rcode != tc.rcode || len(res.Records) != tc.nrec || res.Secure != tc.secure || res.TTL != tc.ttl {
				t.Errorf("rcode %d records %d secure %v ttl %d; want %d %d %v %d",
					res.Rcode, len(res.Records), res.Secure, res.TTL, tc.rcode, tc.nrec, tc.secure, tc.ttl)
			}
			if len(res.CNAMEs) != tc.cnames {
				t.Errorf("CNAMEs %v, want %d", res.CNAMEs, tc.cnames)
			}
			if slices.ContainsFunc(res.CNAMEs, func(n string) bool { return n != strings.ToLower(n) }) {
				t.Errorf("CNAME targets not lower-cased: %v", res.CNAMEs)
			}
			if res.Server != s.Addr {
				t.Errorf("Server %q, want %q", res.Server, s.Addr)
			}
			if tc.requery != "" && s.QueryCount(tc.requery, tc.qtype) != 1 {
				t.Errorf("%s asked %d times, want once", tc.requery, s.QueryCount(tc.requery, tc.qtype))
			}
		})
	}
	if n := s.QueryCount("bad..name", dns.TypeA); n != 0 {
		t.Errorf("invalid name was sent %d times", n)
	}
}

// TestNegativeTTLFromSOA checks RFC 2308 §5: the negative TTL is the smaller of the SOA
// record's TTL and its MINIMUM field, and a default without an SOA.
func TestNegativeTTLFromSOA(t *testing.T) {
	tests := []struct {
		rule    string
		soaTTL  uint32
		minimum uint32
		withSOA bool
		rcode   int
		wantTTL uint32
	}{
		{"RFC 2308 §5: MINIMUM smaller than SOA TTL", 500, 90, true, dns.RcodeNameError, 90},
		{"RFC 2308 §5: SOA TTL smaller than MINIMUM", 30, 900, true, dns.RcodeSuccess, 30},
		{"no SOA in authority → default 60 s", 0, 0, false, dns.RcodeNameError, defaultNegativeTTL},
		{"NODATA without SOA → default 60 s", 0, 0, false, dns.RcodeSuccess, defaultNegativeTTL},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			s := dnstest.New(t)
			s.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
				m := new(dns.Msg).SetReply(r)
				m.Rcode = tc.rcode
				if tc.withSOA {
					soa, _ := dns.NewRR(fmt.Sprintf("example. %d IN SOA ns.example. h.example. 1 2 3 4 %d", tc.soaTTL, tc.minimum))
					m.Ns = append(m.Ns, soa)
				}
				_ = w.WriteMsg(m)
				return true
			})
			res, err := newClient(t, s).Lookup(context.Background(), "x.example.", dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if res.TTL != tc.wantTTL || res.Rcode != tc.rcode || res.Secure {
				t.Fatalf("TTL %d rcode %d secure %v, want %d %d false", res.TTL, res.Rcode, res.Secure, tc.wantTTL, tc.rcode)
			}
		})
	}
}

// TestTCPFallback checks RFC 7766 §5: a truncated UDP reply is asked again over TCP, on
// the same server.
func TestTCPFallback(t *testing.T) {
	s := dnstest.New(t)
	for i := range 30 {
		s.Add(fmt.Sprintf("big.example. 300 IN TXT \"%d %s\"", i, strings.Repeat("x", 200)))
	}
	s.Add("small.example. 300 IN TXT \"short\"")
	c := newClient(t, s)
	tests := []struct {
		rule    string
		name    string
		want    int
		queries int // UDP + TCP
	}{
		{"RFC 7766 §5: TC=1 → same question over TCP", "big.example.", 30, 2},
		{"RFC 6891 §6.2.5: fits in the EDNS0 buffer → UDP only", "small.example.", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			res, err := c.Lookup(context.Background(), tc.name, dns.TypeTXT)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Records) != tc.want || !res.Secure {
				t.Fatalf("%d records secure %v, want %d secure", len(res.Records), res.Secure, tc.want)
			}
			if n := s.QueryCount(tc.name, dns.TypeTXT); n != tc.queries {
				t.Fatalf("%d queries, want %d", n, tc.queries)
			}
		})
	}
}

// TestQueryFlags checks what every query carries: RD=1, AD=1 (RFC 6840 §5.7), EDNS0
// with the configured buffer and DO=1 (RFC 3225 §3).
func TestQueryFlags(t *testing.T) {
	s := dnstest.New(t)
	type seen struct {
		rd, ad, do bool
		size       uint16
	}
	got := make(chan seen, 4)
	s.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
		v := seen{rd: r.RecursionDesired, ad: r.AuthenticatedData}
		if opt := r.IsEdns0(); opt != nil {
			v.do, v.size = opt.Do(), opt.UDPSize()
		}
		got <- v
		return false
	})
	s.Add("q.example. 300 IN A 192.0.2.1")
	tests := []struct {
		rule     string
		cfgSize  uint16
		wantSize uint16
	}{
		{"DNS flag day default EDNS0 buffer 1232", 0, DefaultUDPSize},
		{"configured EDNS0 buffer (RFC 6891 §6.2.3)", 4096, 4096},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			c, err := New(Config{Servers: []string{s.Addr}, UDPSize: tc.cfgSize, Timeout: testTimeout})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Lookup(context.Background(), "q.example.", dns.TypeA); err != nil {
				t.Fatal(err)
			}
			v := <-got
			if !v.rd || !v.ad || !v.do || v.size != tc.wantSize {
				t.Fatalf("query RD=%v AD=%v DO=%v size %d; want all set, size %d", v.rd, v.ad, v.do, v.size, tc.wantSize)
			}
		})
	}
}
