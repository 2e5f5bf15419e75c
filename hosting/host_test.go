package hosting

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/hosting/policyid"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/mtasts"
)

// RFC 8461 §3.2: the served file is the policy lines ending in CRLF; §3.1: its id is
// derived from exactly those bytes.
func TestRender(t *testing.T) {
	p := Render("example.com", mtasts.ModeEnforce, []string{"mx1.example.com", "*.example.net"}, 604800, SourceConfig)
	want := "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
	if string(p.Body) != want {
		t.Fatalf("body %q, want %q", p.Body, want)
	}
	if p.ID != policyid.Of([]byte(want)) {
		t.Errorf("id %s is not the content id", p.ID)
	}
	parsed, err := mtasts.ParsePolicy(p.Body)
	if err != nil || parsed.Mode != mtasts.ModeEnforce || len(parsed.MX) != 2 || parsed.MaxAge != 604800 {
		t.Fatalf("resolver parses it as %+v, %v", parsed, err)
	}
	none := Render("example.com", mtasts.ModeNone, nil, 86400, SourceConfig)
	if _, err := mtasts.ParsePolicy(none.Body); err != nil || none.ID == p.ID {
		t.Errorf("mode none policy: %v, id %s", err, none.ID)
	}
}

// RFC 8461 §3.3 from the host's side: exactly GET /.well-known/mta-sts.txt for a hosted
// mta-sts.<domain> gets 200 text/plain with the policy; everything else 404, never a
// redirect; the resolver's own fetcher accepts the answer.
func TestServeHTTP(t *testing.T) {
	e := newEnv(t)
	h := e.host(t, nil, "", nil)
	h.Update([]Spec{{Domain: "example.com", Mode: mtasts.ModeEnforce, MX: []string{"mx.example.com"}, MaxAge: 86400}})
	ts := e.serveTLS(t, h)
	addr := ts.Listener.Addr().String()

	res, err := e.fetcher(addr).Fetch(context.Background(), "example.com")
	if err != nil {
		t.Fatalf("sender's fetch: %v", err)
	}
	if res.Policy.Mode != mtasts.ModeEnforce || !res.Policy.Match("mx.example.com") {
		t.Errorf("fetched policy %+v", res.Policy)
	}

	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool(), ServerName: "mta-sts.example.com"}, DialContext: dialTo(addr)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	do := func(method, url, host string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const u = "https://mta-sts.example.com/.well-known/mta-sts.txt"
	for _, host := range []string{"mta-sts.example.com", "MTA-STS.Example.COM", "mta-sts.example.com:443", "mta-sts.example.com."} {
		resp, body := do("GET", u, host)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" || body != string(h.Policies()[0].Body) {
			t.Errorf("Host %s: %d %q %q", host, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
	}
	if resp, body := do("HEAD", u, "mta-sts.example.com"); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	for _, c := range []struct{ method, url, host string }{
		{"GET", "https://mta-sts.example.com/", "mta-sts.example.com"},
		{"GET", "https://mta-sts.example.com/.well-known/mta-sts.txt/", "mta-sts.example.com"},
		{"GET", u + "?x=1", "mta-sts.example.com"},
		{"POST", u, "mta-sts.example.com"},
		{"GET", u, "mta-sts.other.example"},
		{"GET", u, "example.com"},
		{"GET", "https://mta-sts.example.com/.well-known/../.well-known/mta-sts.txt", "mta-sts.example.com"},
	} {
		resp, _ := do(c.method, c.url, c.host)
		if resp.StatusCode != 404 {
			t.Errorf("%s %s Host %s: status %d, want 404", c.method, c.url, c.host, resp.StatusCode)
		}
	}
}

// mx: auto follows the domain's MX records, re-read after their TTL; a new MX set gives
// a new id, reported once.
func TestMXAuto(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.com. 120 IN MX 10 mx2.example.com.", "example.com. 120 IN MX 20 MX1.example.com.")
	var changes []Change
	h := e.host(t, nil, "", &changes)
	h.Update([]Spec{{Domain: "example.com", Mode: mtasts.ModeEnforce, MXAuto: true, MaxAge: 86400}})
	if p, _ := h.Lookup("mta-sts.example.com"); p != nil {
		t.Fatalf("policy before the first refresh: %+v", p)
	}
	h.Refresh(context.Background())
	p1, class := h.Lookup("mta-sts.example.com")
	if p1 == nil || strings.Join(p1.MX, ",") != "mx1.example.com,mx2.example.com" || class != ClassConfig || p1.Source != SourceMXAuto {
		t.Fatalf("policy %+v class %v", p1, class)
	}
	// Before the TTL has passed, a change is not seen yet.
	e.dns.Add("example.com. 120 IN MX 30 mx3.example.com.")
	e.clk.Add(60 * time.Second)
	h.Refresh(context.Background())
	if p, _ := h.Lookup("mta-sts.example.com"); p.ID != p1.ID {
		t.Fatal("re-read before the TTL expired")
	}
	e.clk.Add(61 * time.Second)
	h.Refresh(context.Background())
	p2, _ := h.Lookup("mta-sts.example.com")
	if !strings.Contains(strings.Join(p2.MX, ","), "mx3.example.com") || p2.ID == p1.ID {
		t.Fatalf("after TTL: %+v", p2)
	}
	if len(changes) != 2 || changes[1].OldID != p1.ID || changes[1].NewID != p2.ID {
		t.Errorf("changes %+v", changes)
	}
	// The MX lookup failing keeps the last patterns.
	e.dns.Add("example.com. 120 IN MX 40 mx4.example.com.") // would change the id if it were read
	e.dns.SetMode("example.com.", 0, dnstest.Bogus)
	e.clk.Add(10 * time.Minute)
	h.Refresh(context.Background())
	if p, _ := h.Lookup("mta-sts.example.com"); p.ID != p2.ID || !p.Servable(e.clk.Now()) {
		t.Errorf("after a failed MX lookup: %+v", p)
	}
}

// A domain whose MX cannot be read at all has nothing to serve: 503, not a guess.
func TestMXAutoNoRecords(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("nullmx.example. 300 IN MX 0 .")
	h := e.host(t, nil, "", nil)
	h.Update([]Spec{{Domain: "nullmx.example", Mode: mtasts.ModeEnforce, MXAuto: true, MaxAge: 86400}})
	h.Refresh(context.Background())
	p, _ := h.Lookup("mta-sts.nullmx.example")
	if p == nil || p.Err == "" || p.Servable(e.clk.Now()) {
		t.Fatalf("null MX: %+v", p)
	}
	ts := e.serveTLS(t, h)
	_, err := e.fetcher(ts.Listener.Addr().String()).Fetch(context.Background(), "nullmx.example")
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("fetch: %v, want a 503", err)
	}
}
