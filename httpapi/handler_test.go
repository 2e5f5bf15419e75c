package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/httpapi"
	"github.com/mailtls/mailtls/policy"
)

// fixed is a Decider with a canned answer, for the handler's own behaviour.
type fixed struct {
	calls atomic.Int32
	err   error
	panic bool
}

func (f *fixed) Decide(_ context.Context, profile, key string, d *policy.Decision) (string, error) {
	f.calls.Add(1)
	if f.panic {
		panic("boom")
	}
	if f.err != nil {
		return "", f.err
	}
	*d = policy.Decision{Key: key, Domain: key, Profile: profile, Result: policy.OK, Level: "secure",
		Match: []string{"mx.example.com"}, Servername: "hostname", Source: policy.SourceMTASTS,
		Expires: time.Now().Add(time.Hour), CacheHit: true,
		STS: policy.STSPolicy{Domain: key, ID: "1", Mode: "enforce", MaxAge: 86400, MX: []string{"mx.example.com"},
			Lines: []string{"version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: 86400"}}}
	d.SetReasons([]string{"canned"})
	return "OK secure match=mx.example.com servername=hostname", nil
}

func serve(t *testing.T, h http.Handler, method, path, auth string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if method != http.MethodHead { // HEAD answers GET's headers without a body
		loadSchema(t).check(t, req, resp, body)
	}
	return resp, body
}

// A panicking or failing Decider gives a JSON 500; the server goes on serving.
func TestDeciderFailure(t *testing.T) {
	for _, f := range []*fixed{{panic: true}, {err: errors.New("store on fire")}} {
		h := &httpapi.Handler{Decider: f, Profile: "p"}
		resp, body := serve(t, h, "GET", "/v1/policy/example.com", "")
		if resp.StatusCode != 500 || strings.Contains(string(body), "fire") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
}

// Without a default profile, a request must name one; with no token configured, none is
// asked for; a wrong token never reaches the Decider.
func TestProfileAndToken(t *testing.T) {
	f := &fixed{}
	resp, _ := serve(t, &httpapi.Handler{Decider: f}, "GET", "/v1/policy/example.com", "")
	if resp.StatusCode != 400 || f.calls.Load() != 0 {
		t.Fatalf("no profile: %d, %d calls", resp.StatusCode, f.calls.Load())
	}
	resp, body := serve(t, &httpapi.Handler{Decider: f}, "GET", "/v1/policy/example.com?profile=x", "")
	var r httpapi.Response
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.Profile != "x" || r.TLSRPT == nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	f.calls.Store(0)
	resp, _ = serve(t, &httpapi.Handler{Decider: f, Profile: "p", Token: "abc"}, "GET", "/v1/policy/example.com", "Bearer abcd")
	if resp.StatusCode != 401 || f.calls.Load() != 0 {
		t.Fatalf("wrong token: %d, %d calls", resp.StatusCode, f.calls.Load())
	}
	resp, _ = serve(t, &httpapi.Handler{Decider: f, Profile: "p", Token: "abc"}, "HEAD", "/v1/policy/example.com", "Bearer abc")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
}
