package mirror

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/mtasts"
)

// A copy is good for exactly its max_age (RFC 8461 §3.2); failures carry the RFC 8460
// result type a sender would report.
func TestFetch(t *testing.T) {
	ca := testpki.NewCA(t, "mirror CA")
	body := "version: STSv1\r\nmode: enforce\r\nmx: mx.up.example\r\nmax_age: 7200\r\n"
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/policy" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(body))
	}))
	leaf := ca.Leaf(t, "up.example")
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	ts.StartTLS()
	defer ts.Close()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ts.Listener.Addr().String())
	}
	var failures []mtasts.ResultType
	f := &Fetcher{STS: mtasts.NewFetcher(mtasts.FetcherConfig{Dial: dial, RootCAs: ca.Pool()}),
		OnFailure: func(r mtasts.ResultType) { failures = append(failures, r) }}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := f.Fetch(context.Background(), "https://up.example/policy", now)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Body) != body || !c.Expires.Equal(now.Add(2*time.Hour)) || c.Policy.Mode != mtasts.ModeEnforce {
		t.Errorf("copy %+v", c)
	}
	_, err = f.Fetch(context.Background(), "https://up.example/other", now)
	var fe *mtasts.FetchError
	if !errors.As(err, &fe) || fe.Type != mtasts.ResultFetchError || !errors.Is(err, mtasts.ErrHTTPStatus) {
		t.Errorf("404: %v", err)
	}
	// A certificate for another name: sts-webpki-invalid, as for a sender.
	_, err = f.Fetch(context.Background(), "https://other.example/policy", now)
	if !errors.As(err, &fe) || fe.Type != mtasts.ResultWebPKIInvalid {
		t.Errorf("wrong name: %v", err)
	}
	if _, err := f.Fetch(context.Background(), "http://up.example/policy", now); err == nil {
		t.Error("plain http accepted")
	}
	if len(failures) != 3 || failures[1] != mtasts.ResultWebPKIInvalid {
		t.Errorf("failures reported %v", failures)
	}
}

func TestRefreshAfter(t *testing.T) {
	for _, c := range []struct {
		maxAge uint32
		want   time.Duration
	}{{0, time.Minute}, {300, time.Minute}, {7200, 12 * time.Minute}, {604800, time.Hour}} {
		if got := RefreshAfter(c.maxAge); got != c.want {
			t.Errorf("RefreshAfter(%d) = %s, want %s", c.maxAge, got, c.want)
		}
	}
}
