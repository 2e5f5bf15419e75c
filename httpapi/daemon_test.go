package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/httpapi"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/policy"
)

const token = "s3cret-token"

// apiLab is a running daemon with the HTTP API (token on), the socketmap, the metrics
// endpoint and the audit log, on the lab's DNS and policy hosts.
type apiLab struct {
	api, socketmap, metrics, audit string
	schema                         *schema
	d                              *daemon.Daemon
}

func startDaemon(t testing.TB) *apiLab { return startDaemonAudit(t, true) }

// startDaemonAudit is startDaemon with the audit log on or off.
func startDaemonAudit(t testing.TB, audit bool) *apiLab {
	t.Helper()
	l := lab.New(t)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example", "*.mail.sts.example"))
	l.STS("testing.example", "7", lab.Policy("testing", 86400, "mx.testing.example"))
	l.DNS.Add(
		"dane.example. 300 IN MX 10 mx.dane.example.",
		"mx.dane.example. 300 IN A 192.0.2.10",
		"_25._tcp.mx.dane.example. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"none.example. 300 IN A 192.0.2.11",
	)
	dir := t.TempDir()
	a := &apiLab{api: lab.FreeAddr(t), socketmap: lab.FreeAddr(t), metrics: lab.FreeAddr(t),
		audit: filepath.Join(dir, "audit.log"), schema: loadSchema(t)}
	auditFile := a.audit
	if !audit {
		auditFile = `""`
	}
	yaml := l.Config("", a.socketmap, dir) + fmt.Sprintf(`
audit: {file: %s}
metrics: {listen: "%s"}
api: {http: "%s", token: %s}
overrides:
  - {domain: over.example, level: encrypt}
profiles:
  dry: {report_only: true}
  rpt: {tlsrpt: true}
`, auditFile, a.metrics, a.api, token)
	cfg, err := config.Parse([]byte(yaml), "api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + a.metrics + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get performs one request, checks its response against openapi.yaml and returns it.
func (a *apiLab) get(t *testing.T, method, path, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodHead {
		a.schema.check(t, req, resp, body)
	}
	if ct := resp.Header.Get("Content-Type"); method != http.MethodHead && path != "/v1/openapi.yaml" && ct != "application/json" {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	return resp, body
}

func (a *apiLab) metric(t *testing.T, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + a.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return "0"
}

// waitAudit returns the audit log's lines once it has at least n, or what it has after 10 s:
// the daemon writes its lines in batches, at most 100 ms after they are recorded.
func waitAudit(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		al := auditLines(t, path)
		if len(al) >= n || time.Now().After(deadline) {
			return al
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func auditLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// Issue 18: the API answers every next-hop with the decision the socketmap gives (same
// result, level, source and reply), in the documented JSON, and each answer is counted in
// mailtls_queries_total and written to the audit log like a socketmap answer.
func TestSameDecisionAsSocketmap(t *testing.T) {
	a := startDaemon(t)
	cases := []struct {
		profile, key, result, level, source string
	}{
		{"postfix", "sts.example", "OK", "secure", "mta-sts"},
		{"rpt", "sts.example", "OK", "secure", "mta-sts"},
		{"postfix", "dane.example", "OK", "dane-only", "dane"},
		{"postfix", "over.example", "OK", "encrypt", "override"},
		{"postfix", "none.example", "NOTFOUND", "", "default"},
		{"postfix", "testing.example", "NOTFOUND", "", "default"},
		{"dry", "sts.example", "NOTFOUND", "", "report-only"},
		{"postfix", "[192.0.2.1]:25", "NOTFOUND", "", "input"},
	}
	want := 0 // audit lines written so far
	for _, c := range cases {
		t.Run(c.profile+"/"+c.key, func(t *testing.T) {
			series := fmt.Sprintf(`mailtls_queries_total{answer=%q,profile=%q,source=%q}`, c.result, c.profile, c.source)
			before, lines := a.metric(t, series), len(waitAudit(t, a.audit, want))
			want = lines + 2
			resp, body := a.get(t, http.MethodGet, "/v1/policy/"+c.key+"?profile="+c.profile, "Bearer "+token)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var r httpapi.Response
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if string(r.Result) != c.result || r.Level != c.level || string(r.Source) != c.source || r.NextHop != c.key || r.Profile != c.profile {
				t.Fatalf("decision %+v, want result %s level %q source %s", r, c.result, c.level, c.source)
			}
			if sm := lab.Query(t, a.socketmap, c.profile, c.key); sm != r.PostfixReply {
				t.Errorf("postfix_reply %q, socketmap answers %q", r.PostfixReply, sm)
			}
			if len(r.Reasons) == 0 {
				t.Error("no reasons")
			}
			if after := a.metric(t, series); after == before {
				t.Errorf("%s stayed at %s", series, before)
			}
			al := waitAudit(t, a.audit, want)
			// The socketmap query above wrote one line too.
			if len(al) != lines+2 {
				t.Fatalf("audit log has %d lines, want %d", len(al), lines+2)
			}
			if l := al[lines]; l["key"] != c.key || l["answer"] != r.PostfixReply || l["profile"] != c.profile {
				t.Errorf("audit line %v for answer %q", l, r.PostfixReply)
			}
		})
	}

	t.Run("dane-only carries the validated MX hosts and TLSA records; others none", func(t *testing.T) {
		for round := range 2 { // the second from the kept body
			_, body := a.get(t, http.MethodGet, "/v1/policy/dane.example", "Bearer "+token)
			var r httpapi.Response
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			want := &httpapi.DANE{MXSecure: true, Hosts: []httpapi.DANEHost{{Name: "mx.dane.example", Preference: 10,
				TLSABase: "mx.dane.example", State: "dane", TLSA: []httpapi.TLSA{{Usage: 3, Selector: 1, MatchingType: 1,
					Data: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}}}}
			if !reflect.DeepEqual(r.DANE, want) || round == 1 && !r.CacheHit {
				t.Fatalf("round %d (cache_hit %v): dane %+v, want %+v\n%s", round, r.CacheHit, r.DANE, want, body)
			}
		}
		for _, key := range []string{"sts.example", "none.example"} {
			_, body := a.get(t, http.MethodGet, "/v1/policy/"+key, "Bearer "+token)
			if strings.Contains(string(body), `"dane"`) {
				t.Errorf("%s: %s", key, body)
			}
		}
	})

	t.Run("mta-sts enforce carries the policy and its TLSRPT fields", func(t *testing.T) {
		_, body := a.get(t, http.MethodGet, "/v1/policy/STS.example.?profile=rpt", "Bearer "+token)
		var r httpapi.Response
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Domain != "sts.example" || r.Servername != "hostname" || r.Expires.IsZero() || !r.Expires.After(time.Now()) {
			t.Fatalf("decision %+v", r)
		}
		if r.MTASTS == nil || r.MTASTS.Mode != "enforce" || strings.Join(r.MTASTS.MX, ",") != "mx.sts.example,*.mail.sts.example" {
			t.Fatalf("mta_sts %+v", r.MTASTS)
		}
		if r.TLSRPT == nil || r.TLSRPT.PolicyType != "sts" || r.TLSRPT.PolicyDomain != "sts.example" ||
			strings.Join(r.TLSRPT.MXHostPattern, ",") != "mx.sts.example,*.mail.sts.example" ||
			!strings.Contains(strings.Join(r.TLSRPT.PolicyString, "\n"), "mode: enforce") {
			t.Fatalf("tlsrpt %+v", r.TLSRPT)
		}
		if strings.Join(r.MTASTS.Lines, "\n") != strings.Join(r.TLSRPT.PolicyString, "\n") || r.MTASTS.ID != "1" {
			t.Errorf("mta_sts lines %q (id %q) differ from policy_string %q", r.MTASTS.Lines, r.MTASTS.ID, r.TLSRPT.PolicyString)
		}
		if !strings.Contains(r.PostfixReply, "policy_type=sts") {
			t.Errorf("the rpt profile's reply lacks its TLSRPT attributes: %q", r.PostfixReply)
		}
	})
}

// Issue 18: every error is JSON with its status, as documented; no token, a wrong token,
// a wrong method, an unknown profile or path, a missing or oversized next-hop.
func TestErrors(t *testing.T) {
	a := startDaemon(t)
	good := "Bearer " + token
	cases := []struct {
		name, method, path, auth string
		status                   int
		challenge                string
	}{
		{"no token", "GET", "/v1/policy/sts.example", "", 401, `Bearer realm="mailtls"`},
		{"wrong token", "GET", "/v1/policy/sts.example", "Bearer " + token + "x", 401, `Bearer realm="mailtls", error="invalid_token"`},
		{"basic auth", "GET", "/v1/policy/sts.example", "Basic dXNlcjpwYXNz", 401, `Bearer realm="mailtls", error="invalid_token"`},
		{"token is checked before the path", "GET", "/nothing", "", 401, `Bearer realm="mailtls"`},
		{"unknown profile", "GET", "/v1/policy/sts.example?profile=nope", good, 404, ""},
		{"empty profile", "GET", "/v1/policy/sts.example?profile=", good, 400, ""},
		{"two profiles", "GET", "/v1/policy/sts.example?profile=postfix&profile=dry", good, 400, ""},
		{"no next-hop", "GET", "/v1/policy/", good, 400, ""},
		{"slash in next-hop", "GET", "/v1/policy/a.example%2Fb", good, 400, ""},
		{"next-hop too long", "GET", "/v1/policy/" + strings.Repeat("a", httpapi.MaxNextHop+1), good, 400, ""},
		{"POST", "POST", "/v1/policy/sts.example", good, 405, ""},
		{"unknown path", "GET", "/v2/policy/sts.example", good, 404, ""},
		{"root", "GET", "/", good, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := a.get(t, c.method, c.path, c.auth)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			var e httpapi.Error
			if err := json.Unmarshal(body, &e); err != nil || e.Status != c.status || e.Error == "" {
				t.Fatalf("error body %s (%v)", body, err)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenge)
			}
			if c.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
	t.Run("default profile and lower-case scheme", func(t *testing.T) {
		resp, body := a.get(t, "GET", "/v1/policy/over.example", "bearer "+token)
		var r httpapi.Response
		if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.Profile != "postfix" || r.Level != "encrypt" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("the description is served", func(t *testing.T) {
		resp, body := a.get(t, "GET", "/v1/openapi.yaml", good)
		if resp.StatusCode != 200 || string(body) != string(httpapi.OpenAPI()) {
			t.Fatalf("%d, %d bytes", resp.StatusCode, len(body))
		}
	})
}

// The bodies the handler encodes by hand are byte for byte the reference encoding
// (Response through encoding/json) of the same real decisions — DANE, MTA-STS with and
// without TLSRPT, overrides, report-only, no policy, keys that are not looked up, odd and
// non-ASCII next-hops — on the first answer and on repeated (kept) ones, and match
// openapi.yaml.
func TestBodiesOfRealDecisions(t *testing.T) {
	a := startDaemonAudit(t, false)
	cases := []struct{ profile, key string }{
		{"postfix", "sts.example"}, {"rpt", "sts.example"}, {"postfix", "STS.example."}, {"postfix", "[sts.example]:587"},
		{"postfix", "dane.example"}, {"rpt", "dane.example"}, {"postfix", "over.example"}, {"postfix", "none.example"},
		{"postfix", "testing.example"}, {"dry", "sts.example"}, {"dry", "over.example"}, {"postfix", "[192.0.2.1]:25"},
		{"postfix", "[::1]"}, {"postfix", "bücher.example"}, {"postfix", "xn--bcher-kva.example"}, {"postfix", `a"b<c>&d.example`},
		{"postfix", "例え.テスト"}, {"postfix", "nxdomain.example"}, {"postfix", "a..example"},
	}
	for _, c := range cases {
		path := "/v1/policy/" + url.PathEscape(c.key) + "?profile=" + c.profile
		var bodies [][]byte
		for range 3 {
			resp, body := a.get(t, http.MethodGet, path, "Bearer "+token)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %q: status %d: %s", c.profile, c.key, resp.StatusCode, body)
			}
			bodies = append(bodies, body)
		}
		var dec policy.Decision
		reply, err := a.d.Decide(context.Background(), c.profile, c.key, &dec)
		if err != nil {
			t.Fatal(err)
		}
		want, err := httpapi.ReferenceBody(&dec, reply)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range bodies[1:] {
			if string(got) != string(want) {
				t.Errorf("%s %q answer %d:\n got %s\nwant %s", c.profile, c.key, i+2, got, want)
			}
		}
		t.Logf("%s %q: %s", c.profile, c.key, bodies[2])
	}
}
