package hosting

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/mtasts"
)

// benchDomains is how many domains the benchmarked host is configured with.
const benchDomains = 10000

// benchSpecs are n hosted domains with explicit mx lists (no DNS needed).
func benchSpecs(n int) []Spec {
	specs := make([]Spec, n)
	for i := range specs {
		d := fmt.Sprintf("d%d.example", i)
		specs[i] = Spec{Domain: d, Mode: mtasts.ModeEnforce, MX: []string{"mx1." + d, "*.mail." + d}, MaxAge: 604800}
	}
	return specs
}

// serveBench serves handler over TLS on loopback with cert and returns the address.
func serveBench(b *testing.B, handler http.Handler, srv *http.Server, cert tls.Certificate) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv.Handler = handler
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLSConfig = TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
	go srv.ServeTLS(ln, "", "")
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// BenchmarkPolicyFetch measures policy fetches per second over HTTPS from one client, with
// connection reuse and with a new TLS handshake per request, from mailtls's policy host
// configured with 10 000 domains and from a net/http static-file server (http.FileServer)
// serving the same body with the same certificate, in the same run. The ratio of the two
// is the figure in BENCHMARKS.md (target: the policy host at least 0.9× the file server).
func BenchmarkPolicyFetch(b *testing.B) {
	e := &env{ca: testpki.NewCA(b, "bench CA"), clk: newClock()}
	h := New(Options{Builder: &Builder{}})
	h.Update(benchSpecs(benchDomains))
	const name = "mta-sts.d4242.example"
	p, _ := h.Lookup(name)
	cert := e.ca.Leaf(b, name)

	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, ".well-known"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, ".well-known", "mta-sts.txt"), p.Body, 0o644); err != nil {
		b.Fatal(err)
	}
	servers := []struct {
		name string
		addr string
	}{
		{"mailtls", serveBench(b, h, NewServer(nil, nil, nil), cert)},
		{"fileserver", serveBench(b, http.FileServer(http.Dir(dir)), &http.Server{}, cert)},
	}
	for _, mode := range []string{"reuse", "handshake"} {
		for _, s := range servers {
			b.Run(mode+"/"+s.name, func(b *testing.B) {
				tr := &http.Transport{
					TLSClientConfig:   &tls.Config{RootCAs: e.ca.Pool(), ServerName: name},
					DialContext:       dialTo(s.addr),
					DisableKeepAlives: mode == "handshake",
					ForceAttemptHTTP2: true, // as mailtls's own fetcher
				}
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr}
				url := "https://" + name + WellKnownPath
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					resp, err := c.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || n != int64(len(p.Body)) {
						b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fetches/s")
			})
		}
	}
}

// BenchmarkServeHTTP is the handler alone (no TLS, no network): the lookup among 10 000
// domains and the response.
func BenchmarkServeHTTP(b *testing.B) {
	h := New(Options{Builder: &Builder{}})
	h.Update(benchSpecs(benchDomains))
	req, _ := http.NewRequest("GET", "https://mta-sts.d4242.example"+WellKnownPath, nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatal(w.status)
		}
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkHostedDomainMemory reports the heap held per hosted domain: the host's table,
// entry and rendered policy (body, id, patterns), for 10 000 domains.
func BenchmarkHostedDomainMemory(b *testing.B) {
	specs := benchSpecs(benchDomains)
	var perDomain float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := New(Options{Builder: &Builder{}})
		h.Update(specs)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perDomain = float64(after.HeapAlloc-before.HeapAlloc) / benchDomains
		runtime.KeepAlive(h)
	}
	b.ReportMetric(perDomain, "B/domain")
}
