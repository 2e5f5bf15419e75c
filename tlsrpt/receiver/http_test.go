package receiver

import (
	"bytes"
	"context"
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
	srv := httptest.NewServer(NewHandler(rc, 0, 0))
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
	srv := httptest.NewServer(NewHandler(rc, 2, time.Hour))
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
