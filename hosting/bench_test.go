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
	"time"

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

// fetchBench is the policy host with 10 000 domains and a net/http static-file server
// (http.FileServer) serving the same body with the same certificate, both on loopback.
type fetchBench struct {
	ca      *testpki.CA
	name    string
	body    []byte
	mailtls string // addresses
	files   string
}

func newFetchBench(b *testing.B) *fetchBench {
	ca := testpki.NewCA(b, "bench CA")
	h := New(Options{Builder: &Builder{}})
	h.Update(benchSpecs(benchDomains))
	fb := &fetchBench{ca: ca, name: "mta-sts.d4242.example"}
	p, _ := h.Lookup(fb.name)
	fb.body = p.Body
	cert := ca.Leaf(b, fb.name)
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, ".well-known"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, ".well-known", "mta-sts.txt"), p.Body, 0o644); err != nil {
		b.Fatal(err)
	}
	fb.mailtls = serveBench(b, h, NewServer(nil, nil, nil), cert)
	fb.files = serveBench(b, http.FileServer(http.Dir(dir)), &http.Server{}, cert)
	return fb
}

// client returns an HTTPS client to addr like mailtls's own fetcher (HTTP/2 when offered),
// with keep-alive or with a new connection and TLS handshake per request.
func (fb *fetchBench) client(addr string, handshake bool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: fb.ca.Pool(), ServerName: fb.name},
		DialContext:       dialTo(addr),
		DisableKeepAlives: handshake,
		ForceAttemptHTTP2: true,
	}}
}

func (fb *fetchBench) fetch(b *testing.B, c *http.Client) {
	resp, err := c.Get("https://" + fb.name + WellKnownPath)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != int64(len(fb.body)) {
		b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
	}
}

// BenchmarkPolicyFetch measures policy fetches per second over HTTPS from one client, with
// connection reuse and with a new TLS handshake per request, from mailtls's policy host
// configured with 10 000 domains and from a net/http static-file server serving the same
// body with the same certificate. Each sub-benchmark measures one server.
func BenchmarkPolicyFetch(b *testing.B) {
	fb := newFetchBench(b)
	for _, mode := range []string{"reuse", "handshake"} {
		for _, s := range []struct{ name, addr string }{{"mailtls", fb.mailtls}, {"fileserver", fb.files}} {
			b.Run(mode+"/"+s.name, func(b *testing.B) {
				c := fb.client(s.addr, mode == "handshake")
				defer c.CloseIdleConnections()
				b.ReportAllocs()
				for b.Loop() {
					fb.fetch(b, c)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fetches/s")
			})
		}
	}
}

// BenchmarkPolicyFetchPaired alternates one fetch from the policy host and one from the
// file server in the same loop, timing each, so that load from elsewhere on the machine
// hits both alike; it reports both rates and their ratio (target: ratio ≥ 0.9).
func BenchmarkPolicyFetchPaired(b *testing.B) {
	fb := newFetchBench(b)
	for _, mode := range []string{"reuse", "handshake"} {
		b.Run(mode, func(b *testing.B) {
			cm, cf := fb.client(fb.mailtls, mode == "handshake"), fb.client(fb.files, mode == "handshake")
			defer cm.CloseIdleConnections()
			defer cf.CloseIdleConnections()
			var tm, tf time.Duration
			for b.Loop() {
				t0 := time.Now()
				fb.fetch(b, cm)
				t1 := time.Now()
				fb.fetch(b, cf)
				tm, tf = tm+t1.Sub(t0), tf+time.Since(t1)
			}
			b.ReportMetric(float64(b.N)/tm.Seconds(), "mailtls-fetches/s")
			b.ReportMetric(float64(b.N)/tf.Seconds(), "fileserver-fetches/s")
			b.ReportMetric(tf.Seconds()/tm.Seconds(), "ratio")
		})
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
