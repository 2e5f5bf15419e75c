package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/mailtls/mailtls/httpapi"
)

// BenchmarkCachedDecisions measures decisions per second for a cached MTA-STS domain
// through the daemon's HTTP API (token checked, metrics on; audit log on, and off), at 1, 8 and 32
// concurrent keep-alive clients, against a net/http handler answering a fixed body of the
// same length and headers, in the same run (issue 18: target ≥ 0.8× the fixed handler).
// The fixed handler is served exactly as the API is (httpapi.NewServer on httpapi.Listen:
// same timeouts, header limit and connection cap), and its clients send the same request
// (path, query and Authorization header), so the two differ only in the handler.
func BenchmarkCachedDecisions(b *testing.B) {
	a, quiet := startDaemon(b), startDaemonAudit(b, false)
	path := "/v1/policy/sts.example?profile=postfix"
	var warm []byte
	for range 2 { // the second answer is a cache hit, as every measured one is
		resp, body, err := fetch(http.DefaultClient, "http://"+a.api+path)
		if err != nil {
			b.Fatal(err)
		}
		warm = body
		a.schema.check(b, resp.Request, resp, body)
	}
	fixedURL := serveFixed(b, len(warm))

	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("fixed-body/clients=%d", clients), func(b *testing.B) {
			hammer(b, clients, fixedURL+path, "Bearer "+token)
		})
		b.Run(fmt.Sprintf("api-cached/clients=%d", clients), func(b *testing.B) {
			hammer(b, clients, "http://"+a.api+path, "Bearer "+token)
		})
		b.Run(fmt.Sprintf("api-cached-no-audit/clients=%d", clients), func(b *testing.B) {
			hammer(b, clients, "http://"+quiet.api+path, "Bearer "+token)
		})
	}
}

// serveFixed serves a handler that answers every request with a fixed JSON-typed body of
// n bytes and the API's headers, through the API's own server settings; it returns the
// base URL.
func serveFixed(b *testing.B, n int) string {
	body := make([]byte, n)
	for i := range body {
		body[i] = 'x'
	}
	ln, err := httpapi.Listen("127.0.0.1:0", 0)
	if err != nil {
		b.Fatal(err)
	}
	srv := httpapi.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}), nil)
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// BenchmarkHandler measures the API handler alone (no network, no client): one cached
// MTA-STS decision from the daemon (audit log off, metrics on) rendered into a response
// writer that discards it. Its allocations are the handler's own.
func BenchmarkHandler(b *testing.B) {
	a := startDaemonAudit(b, false)
	h := &httpapi.Handler{Decider: a.d, Profile: "postfix", Token: token}
	req := httptest.NewRequest("GET", "/v1/policy/sts.example?profile=postfix", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req) // a cache hit from here on
	if w.status != 200 {
		b.Fatalf("status %d", w.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	b.StopTimer()
	if w.status != 200 {
		b.Fatalf("status %d", w.status)
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func fetch(c *http.Client, url string) (*http.Response, []byte, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// hammer runs b.N requests spread over clients goroutines, each with one keep-alive
// connection of its own, and reports requests per second.
func hammer(b *testing.B, clients int, url, auth string) {
	var wg sync.WaitGroup
	next := make(chan struct{}, 1024)
	errs := make(chan error, clients)
	b.ReportAllocs()
	b.ResetTimer()
	for range clients {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}
		c := &http.Client{Transport: tr}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", url, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			for range next {
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
