package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// BenchmarkCachedDecisions measures decisions per second for a cached MTA-STS domain
// through the daemon's HTTP API (token checked, metrics on; audit log on, and off), at 1, 8 and 32
// concurrent keep-alive clients, against a bare net/http server answering a fixed body of
// the same length, in the same run (issue 18: target ≥ 0.8× the fixed handler).
func BenchmarkCachedDecisions(b *testing.B) {
	a, quiet := startDaemon(b), startDaemonAudit(b, false)
	path := "/v1/policy/sts.example?profile=postfix"
	warm, err := fetch(http.DefaultClient, "http://"+a.api+path)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, len(warm))
	for i := range body {
		body[i] = 'x'
	}
	fixedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	b.Cleanup(fixedSrv.Close)

	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("fixed-body/clients=%d", clients), func(b *testing.B) {
			hammer(b, clients, fixedSrv.URL+"/v1/policy/sts.example", "")
		})
		b.Run(fmt.Sprintf("api-cached/clients=%d", clients), func(b *testing.B) {
			hammer(b, clients, "http://"+a.api+path, "Bearer "+token)
		})
		b.Run(fmt.Sprintf("api-cached-no-audit/clients=%d", clients), func(b *testing.B) {
			hammer(b, clients, "http://"+quiet.api+path, "Bearer "+token)
		})
	}
}

func fetch(c *http.Client, url string) ([]byte, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
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
