package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/httpapi"
)

// BenchmarkCachedDecisions measures decisions per second for a cached MTA-STS domain
// through the daemon's HTTP API (token checked, metrics on; audit log on, and off), at 1, 8 and 32
// concurrent keep-alive clients, against a net/http handler answering a fixed body of the
// same length and headers (issue 18: target ≥ 0.8× the fixed handler).
//
// The fixed handler is served exactly as the API is (httpapi.NewServer on httpapi.Listen:
// same timeouts, header limit and connection cap), and its clients send the same request
// (path, query and Authorization header), so the two differ only in the handler. The
// machine is shared and its load swings within seconds, so the two are measured
// interleaved: blocks of requests to one, then the other, alternating which goes first,
// each with its own keep-alive clients; the metrics are each one's requests per second
// over its own blocks and their ratio (api/fixed).
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
		b.Run(fmt.Sprintf("clients=%d/api", clients), func(b *testing.B) {
			compare(b, clients, fixedURL+path, "http://"+a.api+path)
		})
		b.Run(fmt.Sprintf("clients=%d/api-no-audit", clients), func(b *testing.B) {
			compare(b, clients, fixedURL+path, "http://"+quiet.api+path)
		})
	}
}

// compare sends b.N requests to fixedURL and b.N to apiURL, interleaved in blocks, each
// target through clients keep-alive clients of its own, and reports both rates and their
// ratio.
func compare(b *testing.B, clients int, fixedURL, apiURL string) {
	fixed, api := newClients(b, clients, fixedURL), newClients(b, clients, apiURL)
	block := 100 * clients
	var tFixed, tAPI time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(block, b.N-done)
		if round%2 == 0 {
			tFixed += fixed.send(b, n)
			tAPI += api.send(b, n)
		} else {
			tAPI += api.send(b, n)
			tFixed += fixed.send(b, n)
		}
		done += n
	}
	b.StopTimer()
	fixedRate, apiRate := float64(b.N)/tFixed.Seconds(), float64(b.N)/tAPI.Seconds()
	b.ReportMetric(fixedRate, "fixed-req/s")
	b.ReportMetric(apiRate, "api-req/s")
	b.ReportMetric(apiRate/fixedRate, "api/fixed")
}

// clientSet is one keep-alive connection per client, to one URL.
type clientSet struct {
	reqs []*http.Request
	cs   []*http.Client
}

func newClients(b *testing.B, n int, url string) *clientSet {
	s := &clientSet{}
	for range n {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}
		b.Cleanup(tr.CloseIdleConnections)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		s.reqs, s.cs = append(s.reqs, req), append(s.cs, &http.Client{Transport: tr})
	}
	return s
}

// send makes n requests spread over the clients and returns how long they took.
func (s *clientSet) send(b *testing.B, n int) time.Duration {
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(n))
	errs := make(chan error, len(s.cs))
	start := time.Now()
	for i, c := range s.cs {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				resp, err := c.Do(s.reqs[i])
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
	wg.Wait()
	d := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return d
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
