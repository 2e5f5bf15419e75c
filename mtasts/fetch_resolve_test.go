package mtasts

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// TestFetchResolvesThroughConfiguredResolver wires the Fetcher to dnsclient's dialer, as
// the daemon does (conformance.md §4: the policy host is resolved through the same
// configured resolver), and checks that the mta-sts host name is looked up there.
func TestFetchResolvesThroughConfiguredResolver(t *testing.T) {
	p := newPKI(t)
	srv := startPolicyServer(t, p.good, nil, servePolicy("text/plain", validBody))
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		records []string
		ok      bool
	}{
		{"A record on loopback", []string{"mta-sts.example.com. 300 IN A 127.0.0.1"}, true},
		{"CNAME to a hosting provider", []string{
			"mta-sts.example.com. 300 IN CNAME sts.provider.example.",
			"sts.provider.example. 300 IN A 127.0.0.1"}, true},
		{"policy host does not exist", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.New(t)
			s.Add(tc.records...)
			c := newResolver(t, s, time.Second)
			f := NewFetcher(FetcherConfig{
				// The test server cannot listen on 443; keep the host, change the port.
				Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					host, _, err := net.SplitHostPort(addr)
					if err != nil {
						return nil, err
					}
					return c.DialContext(ctx, network, net.JoinHostPort(host, port))
				},
				RootCAs: p.trusted,
				Timeout: 5 * time.Second,
			})
			res, err := f.Fetch(context.Background(), testDomain)
			if n := s.QueryCount(testSTSHost, dns.TypeA) + s.QueryCount(testSTSHost, dns.TypeAAAA); n == 0 {
				t.Fatal("mta-sts host was not resolved through the configured resolver")
			}
			if !tc.ok {
				var fe *FetchError
				if !errors.As(err, &fe) || fe.Type != ResultFetchError {
					t.Fatalf("Fetch = %+v, %v; want a sts-policy-fetch-error", res, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if res.Policy.Mode != ModeEnforce {
				t.Fatalf("mode %s", res.Policy.Mode)
			}
		})
	}
}
