package mtasts

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

func newResolver(t *testing.T, s *dnstest.Server, timeout time.Duration) *dnsclient.Client {
	t.Helper()
	c, err := dnsclient.New(dnsclient.Config{Servers: []string{s.Addr}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLookupRecord(t *testing.T) {
	const name = "_mta-sts.example.com."
	tests := []struct {
		name       string
		records    []string
		insecure   bool
		wantID     string // "" means Record must be nil
		wantTXT    int
		wantName   string
		wantTTL    uint32
		wantNX     bool
		wantReason string // substring of Reason when Record is nil
	}{
		{name: "§3.1 single record", records: []string{name + ` 300 IN TXT "v=STSv1; id=20160831085700Z;"`},
			wantID: "20160831085700Z", wantTXT: 1, wantName: name, wantTTL: 300},
		{name: "§3.1 STS record next to an unrelated one", records: []string{
			name + ` 300 IN TXT "v=spf1 -all"`, name + ` 300 IN TXT "v=STSv1; id=abc"`},
			wantID: "abc", wantTXT: 2, wantName: name, wantTTL: 300},
		{name: "§3.1 two STS records: no policy", records: []string{
			name + ` 300 IN TXT "v=STSv1; id=abc"`, name + ` 300 IN TXT "v=STSv1; id=def"`},
			wantTXT: 2, wantName: name, wantTTL: 300, wantReason: "2 v=STSv1 records: must be exactly one"},
		{name: "§3.1 an invalid STS record still counts", records: []string{
			name + ` 300 IN TXT "v=STSv1;"`, name + ` 300 IN TXT "v=STSv1; id=def"`},
			wantTXT: 2, wantName: name, wantTTL: 300, wantReason: "2 v=STSv1 records"},
		{name: "§3.1 records not beginning with v=STSv1; are discarded first", records: []string{
			name + ` 300 IN TXT "v=STSv1"`, name + ` 300 IN TXT "v=STSv10; id=x"`, name + ` 300 IN TXT "v=STSv1; id=def"`},
			wantID: "def", wantTXT: 3, wantName: name, wantTTL: 300},
		{name: "§3.1 multi-string TXT concatenated without spaces", records: []string{name + ` 300 IN TXT "v=STSv1; id=" "abc" "123"`},
			wantID: "abc123", wantTXT: 1, wantName: name, wantTTL: 300},
		{name: "§3.1 multi-string TXT split inside the version", records: []string{name + ` 300 IN TXT "v=ST" "Sv1; id=abc"`},
			wantID: "abc", wantTXT: 1, wantName: name, wantTTL: 300},
		{name: "§3.1 TXT via CNAME", records: []string{
			name + ` 600 IN CNAME _mta-sts.provider.example.`,
			`_mta-sts.provider.example. 120 IN TXT "v=STSv1; id=viacname"`},
			wantID: "viacname", wantTXT: 1, wantName: "_mta-sts.provider.example.", wantTTL: 120},
		{name: "§3.1 syntactically invalid record: no policy", records: []string{name + ` 300 IN TXT "v=STSv1; id=not-alnum"`},
			wantTXT: 1, wantName: name, wantTTL: 300, wantReason: "invalid MTA-STS record"},
		{name: "§3.1 only unrelated TXT records", records: []string{name + ` 300 IN TXT "hello"`},
			wantTXT: 1, wantName: name, wantTTL: 300, wantReason: "no v=STSv1 record"},
		{name: "§3.1 NODATA", records: []string{name + ` 300 IN A 192.0.2.1`},
			wantName: name, wantTTL: 300, wantReason: "no TXT records"},
		{name: "§3.1 NXDOMAIN", wantNX: true, wantTTL: 300, wantReason: "does not exist"},
		{name: "insecure answer is still used (RFC 8461 §3.1 needs no DNSSEC)", insecure: true,
			records: []string{name + ` 300 IN TXT "v=STSv1; id=abc"`}, wantID: "abc", wantTXT: 1, wantName: name, wantTTL: 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.New(t)
			s.Add(tc.records...)
			if tc.insecure {
				s.SetMode(name, 0, dnstest.Insecure)
			}
			got, err := LookupRecord(context.Background(), newResolver(t, s, time.Second), "example.com")
			if err != nil {
				t.Fatalf("LookupRecord: %v", err)
			}
			if got.NXDomain != tc.wantNX || len(got.TXT) != tc.wantTXT || got.TTL != tc.wantTTL {
				t.Fatalf("LookupRecord = %+v, want NXDomain %v, %d TXT, TTL %d", got, tc.wantNX, tc.wantTXT, tc.wantTTL)
			}
			if tc.wantName != "" && got.Name != tc.wantName {
				t.Fatalf("Name = %q, want %q", got.Name, tc.wantName)
			}
			if got.Secure == tc.insecure {
				t.Fatalf("Secure = %v, want %v", got.Secure, !tc.insecure)
			}
			if tc.wantID == "" {
				if got.Record != nil {
					t.Fatalf("Record = %+v, want nil", got.Record)
				}
				if !strings.Contains(got.Reason, tc.wantReason) {
					t.Fatalf("Reason = %q, want it to contain %q", got.Reason, tc.wantReason)
				}
				return
			}
			if got.Record == nil || got.Record.ID != tc.wantID || got.Reason != "" {
				t.Fatalf("Record = %+v (reason %q), want id %q", got.Record, got.Reason, tc.wantID)
			}
		})
	}
}

// TestLookupRecordConcatenation checks that TXT holds each record's strings joined
// without spaces (RFC 8461 §3.1), for explanations.
func TestLookupRecordConcatenation(t *testing.T) {
	s := dnstest.New(t)
	s.Add(`_mta-sts.example.com. 300 IN TXT "v=STSv1; " "id=abc"`)
	got, err := LookupRecord(context.Background(), newResolver(t, s, time.Second), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TXT) != 1 || got.TXT[0] != "v=STSv1; id=abc" {
		t.Fatalf("TXT = %q", got.TXT)
	}
	if n := s.QueryCount("_mta-sts.example.com.", dns.TypeTXT); n != 1 {
		t.Fatalf("%d TXT queries, want 1", n)
	}
}

// TestLookupRecordDNSFailure checks that failures leaving the answer unknown are errors
// wrapping the resolver's sentinel, and that a silent server is given up on in bounded time
// (conformance.md §6: DNS timeout → bounded time).
func TestLookupRecordDNSFailure(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const bound = 5 * time.Second // every attempt the client makes, plus slack
	tests := []struct {
		name string
		mode dnstest.Mode
		want error
	}{
		{"SERVFAIL (bogus data at a validating resolver)", dnstest.Bogus, dnsclient.ErrServFail},
		{"REFUSED", dnstest.Refused, dnsclient.ErrRefused},
		{"timeout", dnstest.Timeout, dnsclient.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.New(t)
			s.Add(`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=abc"`)
			s.SetMode("_mta-sts.example.com.", dns.TypeTXT, tc.mode)
			start := time.Now()
			got, err := LookupRecord(context.Background(), newResolver(t, s, timeout), "example.com")
			if elapsed := time.Since(start); elapsed > bound {
				t.Fatalf("LookupRecord took %v, want at most %v", elapsed, bound)
			}
			if err == nil {
				t.Fatalf("LookupRecord = %+v, want an error", got)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v does not wrap %v", err, tc.want)
			}
			var le *dnsclient.LookupError
			if !errors.As(err, &le) {
				t.Fatalf("error %v does not wrap a *dnsclient.LookupError", err)
			}
		})
	}
}

// TestLookupRecordContextDeadline checks that the caller's deadline bounds a lookup on a
// silent server even when the client's own timeout is long.
func TestLookupRecordContextDeadline(t *testing.T) {
	s := dnstest.New(t)
	s.SetMode("_mta-sts.example.com.", 0, dnstest.Timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := LookupRecord(ctx, newResolver(t, s, 30*time.Second), "example.com")
	if err == nil {
		t.Fatal("LookupRecord on a silent server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 300*time.Millisecond+2*time.Second {
		t.Fatalf("LookupRecord took %v, want at most 2.3s", elapsed)
	}
}
