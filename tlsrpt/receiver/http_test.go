package receiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestReceiver(t testing.TB, lim Limits) (*Receiver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return &Receiver{Store: openTestStore(t), Limits: lim, Metrics: m, Log: slog.New(slog.DiscardHandler)}, reg
}

func post(t testing.TB, url, ctype string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPEndpoint(t *testing.T) {
	rc, _ := newTestReceiver(t, Limits{MaxCompressed: 256 << 10, MaxDecompressed: 4 << 20})
	srv := httptest.NewServer(NewHandler(rc, RateLimit{}))
	defer srv.Close()
	ctx := context.Background()

	cases := []struct {
		name  string
		ctype string
		body  []byte
		want  int
	}{
		{"gzip report", "application/tlsrpt+gzip", gz(t, rfcSample("g1")), 202},
		{"duplicate", "application/tlsrpt+gzip", gz(t, rfcSample("g1")), 202},
		{"json report", "application/tlsrpt+json", []byte(bigReporterShape("j1")), 202},
		{"json with parameters", "application/tlsrpt+json; charset=utf-8", []byte(bigReporterShape("j2")), 202},
		{"wrong content type", "application/json", []byte(bigReporterShape("j3")), 415},
		{"gzip sent as json", "application/tlsrpt+json", gz(t, rfcSample("g2")), 400},
		{"json sent as gzip", "application/tlsrpt+gzip", []byte(rfcSample("g3")), 400},
		{"truncated gzip", "application/tlsrpt+gzip", func() []byte { b := gz(t, rfcSample("g4")); return b[:len(b)-12] }(), 400},
		{"gzip bomb", "application/tlsrpt+gzip", bomb(t, 64<<20), 413},
		{"10000 policies", "application/tlsrpt+gzip", gz(t, manyPolicies(10000)), 413},
		{"over compressed limit", "application/tlsrpt+json", bytes.Repeat([]byte(" "), 300<<10), 413},
		{"no policies member", "application/tlsrpt+json", []byte(`{"organization-name":"x"}`), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code, msg := post(t, srv.URL+"/tlsrpt", c.ctype, c.body); code != c.want {
				t.Fatalf("status %d (%s), want %d", code, strings.TrimSpace(msg), c.want)
			}
		})
	}
	if n, _ := st(rc).Count(ctx); n != 3 {
		t.Fatalf("%d reports stored, want 3 (g1, j1, j2)", n)
	}
	if got := testutil.ToFloat64(rc.Metrics.reports.WithLabelValues("https", "duplicate")); got != 1 {
		t.Fatalf("duplicate counted %v times", got)
	}
	if got := testutil.ToFloat64(rc.Metrics.reports.WithLabelValues("https", "too_large")); got != 3 {
		t.Fatalf("too_large counted %v times, want 3", got)
	}
	if got := testutil.ToFloat64(rc.Metrics.sessions.WithLabelValues("certificate-expired")); got != 100 {
		t.Fatalf("certificate-expired sessions %v, want 100", got)
	}
	resp, err := http.Get(srv.URL + "/tlsrpt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func st(rc *Receiver) *Store { return rc.Store }

func TestHTTPRateLimitAndOurs(t *testing.T) {
	rc, _ := newTestReceiver(t, Limits{})
	rc.Ours = func(d string) bool { return d == "company-y.example" }
	now := time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)
	rc.Now = func() time.Time { return now }
	srv := httptest.NewServer(NewHandler(rc, RateLimit{PerClient: 2, Window: time.Hour}))
	defer srv.Close()
	if code, msg := post(t, srv.URL, "application/tlsrpt+json", []byte(bigReporterShape("x"))); code != 403 {
		t.Fatalf("report about someone else's domain: %d %s", code, msg)
	}
	if code, _ := post(t, srv.URL, "application/tlsrpt+json", []byte(rfcSample("a"))); code != 202 {
		t.Fatalf("second: %d", code)
	}
	code, _ := post(t, srv.URL, "application/tlsrpt+json", []byte(rfcSample("b")))
	if code != 429 {
		t.Fatalf("third report within the hour: %d, want 429", code)
	}
	now = now.Add(time.Hour)
	if code, _ := post(t, srv.URL, "application/tlsrpt+json", []byte(rfcSample("b"))); code != 202 {
		t.Fatalf("after the window: %d", code)
	}
}

func TestRateLimiterBounded(t *testing.T) {
	l := newRateLimiter(1, time.Minute)
	l.maxKeys = 3
	now := time.Unix(0, 0)
	for i, k := range []string{"a", "b", "c"} {
		if !l.allow(k, now) {
			t.Fatalf("key %d refused", i)
		}
	}
	if l.allow("d", now) {
		t.Fatal("a fourth key was tracked past maxKeys")
	}
	if !l.allow("d", now.Add(time.Minute)) || len(l.seen) > 3 {
		t.Fatalf("expired keys not reclaimed: %d", len(l.seen))
	}
}

// serveFrom posts a report to h as if from the client address remote ("ip:port").
func serveFrom(h http.Handler, remote, body string) int {
	req := httptest.NewRequest(http.MethodPost, "/tlsrpt", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/tlsrpt+json")
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// The per-client limit counts an IPv6 client by its /64 (a host there can use any
// address of it), an IPv4 client by its address; the total limit counts every client
// together, so many addresses cannot fill the store between them. Both answer 429 with
// Retry-After, and a new window admits reports again.
func TestHTTPRateLimitClientsAndTotal(t *testing.T) {
	rc, _ := newTestReceiver(t, Limits{})
	now := time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)
	rc.Now = func() time.Time { return now }
	h := NewHandler(rc, RateLimit{PerClient: 2, Total: 5, Window: time.Hour})
	n := 0
	report := func() string { n++; return rfcSample(fmt.Sprintf("r%d", n)) }
	for i, c := range []struct {
		remote string
		want   int
	}{
		{"[2001:db8:1:2::1]:4000", 202},
		{"[2001:db8:1:2:ffff::9]:4001", 202}, // the same /64
		{"[2001:db8:1:2:0:0:0:77]:4002", 429},
		{"[2001:db8:1:3::1]:4003", 202}, // the next /64: another client
		{"192.0.2.1:5000", 202},
		{"192.0.2.2:5000", 202}, // the fifth report of the hour
		{"192.0.2.3:5000", 429}, // a new client, over the total
	} {
		if got := serveFrom(h, c.remote, report()); got != c.want {
			t.Fatalf("report %d from %s: %d, want %d", i, c.remote, got, c.want)
		}
	}
	now = now.Add(time.Hour)
	if got := serveFrom(h, "192.0.2.3:5000", report()); got != 202 {
		t.Fatalf("in the next window: %d, want 202", got)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "::ffff:192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::1%eth0": "2001:db8:1:2::/64",
		"not an address":       "not an address",
		"fe80::1":              "fe80::/64",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
