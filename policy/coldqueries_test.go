package policy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// The DNS queries a cold decision of each family costs, counted at the lab's DNS server
// (an in-process miekg/dns server), are exactly those the decision needs (issue 19), and
// a second lookup costs none:
//
//   - the DANE stage asks the MX RRset, the host's A RRset and, behind secure addresses,
//     its TLSA RRset (RFC 7672 §2.2); AAAA only when A does not settle the host's
//     addresses (no A records, or the A lookup failed);
//   - the MTA-STS stage asks the TXT record (RFC 8461 §3.1), and the policy host's A and
//     AAAA only when there is a record to fetch a policy for (§3.3);
//   - both stages run for every family (conformance.md §2: DANE first, yet an MTA-STS
//     policy also published is part of the answer's explanation, and with an insecure
//     MX RRset an enforced policy decides).
func TestColdQueriesPerFamily(t *testing.T) {
	c := newColdLab(t, 0)
	unsigned := func() (string, string) {
		c.n++
		d := fmt.Sprintf("unsigned%d.example", c.n)
		c.DNS.Add(d+". 300 IN MX 10 mx."+d+".", "mx."+d+". 300 IN A 192.0.2.1")
		c.DNS.SetMode(d+".", 0, dnstest.Insecure)
		c.DNS.SetMode("mx."+d+".", 0, dnstest.Insecure)
		return d, "NOTFOUND "
	}
	v6only := func() (string, string) {
		c.n++
		d := fmt.Sprintf("v6only%d.example", c.n)
		c.DNS.Add(d+". 300 IN MX 10 mx."+d+".", "mx."+d+". 300 IN AAAA 2001:db8::1",
			"_25._tcp.mx."+d+". 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		return d, "OK dane-only"
	}
	for _, tc := range []struct {
		family string
		domain func() (string, string)
		want   func(d string) []string // "TYPE name" of every query, sorted
	}{
		{"dane", func() (string, string) { return c.domain("dane") }, func(d string) []string {
			return []string{"A mx." + d, "MX " + d, "TLSA _25._tcp.mx." + d, "TXT _mta-sts." + d}
		}},
		{"neither", func() (string, string) { return c.domain("neither") }, func(d string) []string {
			return []string{"A " + d, "MX " + d, "TLSA _25._tcp." + d, "TXT _mta-sts." + d}
		}},
		{"sts", func() (string, string) { return c.domain("sts") }, func(d string) []string {
			return []string{"A mta-sts." + d, "A mx." + d, "AAAA mta-sts." + d, "MX " + d, "TLSA _25._tcp.mx." + d, "TXT _mta-sts." + d}
		}},
		// An unsigned zone: insecure addresses end the DANE chain before TLSA (RFC 7672
		// §2.2), and AAAA, in the same zone as the insecure A, cannot be secure.
		{"unsigned", unsigned, func(d string) []string {
			return []string{"A mx." + d, "MX " + d, "TXT _mta-sts." + d}
		}},
		// No A records: AAAA is asked, after A, and decides.
		{"v6only", v6only, func(d string) []string {
			return []string{"A mx." + d, "AAAA mx." + d, "MX " + d, "TLSA _25._tcp.mx." + d, "TXT _mta-sts." + d}
		}},
	} {
		t.Run(tc.family, func(t *testing.T) {
			d, reply := tc.domain()
			log := c.logQueries()
			if got := c.eng.Resolve(context.Background(), plain, d).PostfixReply(); got != reply {
				t.Fatalf("%s: %q, want %q", d, got, reply)
			}
			got, want := log(), tc.want(d)
			if !slices.Equal(got, want) {
				t.Errorf("queries for a cold %s domain:\n got %d: %s\nwant %d: %s", tc.family, len(got), strings.Join(got, ", "), len(want), strings.Join(want, ", "))
			}
			log = c.logQueries()
			if got := c.eng.Resolve(context.Background(), plain, d).PostfixReply(); got != reply {
				t.Fatalf("%s again: %q, want %q", d, got, reply)
			}
			if got := log(); len(got) != 0 {
				t.Errorf("a cached answer asked DNS: %s", strings.Join(got, ", "))
			}
		})
	}
}

// logQueries records the questions the lab's DNS server receives from now on; the
// function returned stops recording and returns them as sorted "TYPE name" strings
// (names without the trailing dot).
func (c *coldLab) logQueries() func() []string {
	var mu sync.Mutex
	seen := map[string]int{}
	c.DNS.SetHandler(func(_ dns.ResponseWriter, r *dns.Msg) bool {
		if len(r.Question) == 1 {
			q := r.Question[0]
			mu.Lock()
			seen[dns.TypeToString[q.Qtype]+" "+strings.TrimSuffix(strings.ToLower(q.Name), ".")]++
			mu.Unlock()
		}
		return false // answered as usual
	})
	return func() []string {
		c.DNS.SetHandler(nil)
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, k := range slices.Sorted(maps.Keys(seen)) {
			for range seen[k] {
				out = append(out, k)
			}
		}
		return out
	}
}
