package dnsclient

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/miekg/dns"
)

func TestLookupAddrs(t *testing.T) {
	s := dnstest.New(t)
	s.Add(
		"both.example. 300 IN A 192.0.2.1",
		"both.example. 300 IN AAAA 2001:db8::1",
		"v4only.example. 300 IN A 192.0.2.2",
		"halfbogus.example. 300 IN A 192.0.2.3",
		"halfbogus.example. 300 IN AAAA 2001:db8::3",
		"halfinsecure.example. 300 IN A 192.0.2.4",
		"halfinsecure.example. 300 IN AAAA 2001:db8::4",
	)
	s.SetMode("halfbogus.example.", dns.TypeAAAA, dnstest.Bogus)
	s.SetMode("halfinsecure.example.", dns.TypeA, dnstest.Insecure)
	c := newClient(t, s)
	tests := []struct {
		rule     string
		host     string
		wantIPs  []string
		secure   bool
		wantErr  error
		notFound bool
	}{
		{"RFC 7672 §2.2.2: both families secure", "both.example.", []string{"2001:db8::1", "192.0.2.1"}, true, nil, false},
		{"NODATA for AAAA is an answer, not a failure", "v4only.example.", []string{"192.0.2.2"}, true, nil, false},
		{"one family bogus: the other's addresses kept, error reported", "halfbogus.example.", []string{"192.0.2.3"}, false, ErrServFail, false},
		{"one family insecure → not Secure", "halfinsecure.example.", []string{"2001:db8::4", "192.0.2.4"}, false, nil, false},
		{"NXDOMAIN for both → NotFound", "none.example.", nil, true, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			a := LookupAddrs(context.Background(), c, tc.host)
			var got []string
			for _, ip := range a.IPs() {
				got = append(got, ip.String())
			}
			if !slices.Equal(got, tc.wantIPs) {
				t.Errorf("IPs %v, want %v", got, tc.wantIPs)
			}
			if a.Secure() != tc.secure || a.NotFound() != tc.notFound {
				t.Errorf("Secure %v NotFound %v, want %v %v", a.Secure(), a.NotFound(), tc.secure, tc.notFound)
			}
			if tc.wantErr == nil && a.Err() != nil {
				t.Errorf("Err() = %v", a.Err())
			}
			if tc.wantErr != nil && !errors.Is(a.Err(), tc.wantErr) {
				t.Errorf("Err() = %v, want %v", a.Err(), tc.wantErr)
			}
		})
	}
}

func TestDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Addr, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn.RemoteAddr()
			conn.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	s := dnstest.New(t)
	s.Add(
		"svc.example. 300 IN A 127.0.0.1",
		// ::1 is tried first and nothing listens there: the dialer must go on.
		"dual.example. 300 IN AAAA ::1",
		"dual.example. 300 IN A 127.0.0.1",
		"v6only.example. 300 IN AAAA ::1",
		"bogus.example. 300 IN A 127.0.0.1",
	)
	s.SetMode("bogus.example.", 0, dnstest.Bogus)
	c := newClient(t, s)

	tests := []struct {
		rule      string
		network   string
		host      string
		wantErr   error // nil: must connect to the listener
		anyErr    bool
		wantQuery bool
	}{
		{"name resolved through the configured resolver", "tcp", "svc.example", nil, false, true},
		{"addresses tried in turn", "tcp", "dual.example", nil, false, true},
		{"tcp4 skips AAAA addresses", "tcp4", "dual.example", nil, false, true},
		{"IP literal dialed without DNS", "tcp", "127.0.0.1", nil, false, false},
		{"tcp4 with only AAAA → ErrNoAddress", "tcp4", "v6only.example", ErrNoAddress, false, true},
		{"NXDOMAIN → ErrNoAddress", "tcp", "none.example", ErrNoAddress, false, true},
		{"bogus name → lookup error, no dial", "tcp", "bogus.example", ErrServFail, false, true},
		{"unsupported network", "udp", "svc.example", nil, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			before := s.Queries()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := c.DialContext(ctx, tc.network, net.JoinHostPort(tc.host, port))
			asked := s.Queries() > before
			if asked != tc.wantQuery {
				t.Errorf("resolver asked: %v, want %v", asked, tc.wantQuery)
			}
			if tc.wantErr != nil || tc.anyErr {
				if err == nil {
					conn.Close()
					t.Fatal("dial succeeded")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if ap := netip.MustParseAddrPort(conn.RemoteAddr().String()); ap.Addr().String() != "127.0.0.1" || ap.Port() == 0 {
				t.Fatalf("connected to %v", conn.RemoteAddr())
			}
			select {
			case <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatal("listener saw no connection")
			}
		})
	}
}
