package dane

import (
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
)

// testTimeout is the per-attempt DNS timeout against the in-process server.
const testTimeout = 300 * time.Millisecond

// sha256Hex is well-formed SHA2-256 association data (32 octets).
var sha256Hex = strings.Repeat("ab", 32)

func newEvaluator(t testing.TB, s *dnstest.Server) *Evaluator {
	t.Helper()
	c, err := dnsclient.New(dnsclient.Config{Servers: []string{s.Addr}, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return &Evaluator{Resolver: c}
}

// daneHost returns the records of an MX host with A, AAAA and a usable DANE-EE TLSA record.
func daneHost(name string) []string {
	return []string{
		name + " 300 IN A 192.0.2.1",
		name + " 300 IN AAAA 2001:db8::1",
		"_25._tcp." + name + " 300 IN TLSA 3 1 1 " + sha256Hex,
	}
}

// plainHost returns the records of an MX host with addresses and no TLSA.
func plainHost(name string) []string {
	return []string{name + " 300 IN A 192.0.2.2", name + " 300 IN AAAA 2001:db8::2"}
}
