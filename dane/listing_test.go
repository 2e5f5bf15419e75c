package dane

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// Issue 11: a hostile zone's floods (hundreds of MX exchanges, addresses, TLSA records)
// are listed in the reasons only up to maxListed each, with how many more there are,
// while the outcome is still decided on every record: here the only usable TLSA record is
// the last of 400, and the host is DANE.
func TestReasonsListBounded(t *testing.T) {
	s := dnstest.New(t)
	s.Add("flood.example. 300 IN MX 10 mx.flood.example.")
	for i := range 300 {
		s.Add(fmt.Sprintf("flood.example. 300 IN MX 20 junk%d.flood.example.", i))
	}
	for i := range 200 {
		s.Add(fmt.Sprintf("mx.flood.example. 300 IN A 198.18.%d.%d", i/250, 1+i%250))
	}
	for i := range 399 { // unusable: unknown usage 200 (RFC 7671 §4.1)
		s.Add(fmt.Sprintf("_25._tcp.mx.flood.example. 300 IN TLSA 200 1 1 %064x", i))
	}
	s.Add("_25._tcp.mx.flood.example. 300 IN TLSA 3 1 1 " + sha256Hex)
	res, err := newEvaluator(t, s).Evaluate(context.Background(), "flood.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hosts) == 0 || res.Hosts[0].State != HostDANE {
		t.Fatalf("host state: %+v, want DANE (the one usable record is the last)", res.Hosts)
	}
	all := strings.Join(res.Reasons, "\n")
	for _, want := range []string{"… and 293 more", "… and 192 more", "… 392 more TLSA records not listed", "1 usable of 400"} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons lack %q:\n%s", want, all)
		}
	}
	if len(all) > 4096 {
		t.Errorf("reasons of %d bytes for one host", len(all))
	}
}
