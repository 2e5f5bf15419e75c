package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testpki"
)

const (
	testDomain  = "example.com"
	testSTSHost = "mta-sts.example.com"
	validBody   = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
)

// pki holds the certificates the fetch tests use: a trusted CA, an untrusted one, and
// leaves for the right and a wrong name.
type pki struct {
	trusted     *x509.CertPool
	good        tls.Certificate // mta-sts.example.com from the trusted CA
	wrongName   tls.Certificate // www.example.com from the trusted CA
	untrustedCA tls.Certificate // mta-sts.example.com from an untrusted CA
}

func newPKI(t *testing.T) *pki {
	ca := testpki.NewCA(t, "mailtls test CA")
	other := testpki.NewCA(t, "untrusted test CA")
	return &pki{
		trusted:     ca.Pool(),
		good:        ca.Leaf(t, testSTSHost),
		wrongName:   ca.Leaf(t, "www.example.com"),
		untrustedCA: other.Leaf(t, testSTSHost),
	}
}

// policyServer is an HTTPS test server that records the SNI names and Host headers it saw.
type policyServer struct {
	*httptest.Server
	mu       sync.Mutex
	sni      []string
	hosts    []string
	requests atomic.Int32
}

func startPolicyServer(t *testing.T, cert tls.Certificate, cfg func(*tls.Config), h http.HandlerFunc) *policyServer {
	t.Helper()
	ps := &policyServer{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.requests.Add(1)
		ps.mu.Lock()
		ps.hosts = append(ps.hosts, r.Host)
		ps.mu.Unlock()
		h(w, r)
	}))
	srv.TLS = &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			ps.mu.Lock()
			ps.sni = append(ps.sni, hello.ServerName)
			ps.mu.Unlock()
			return &cert, nil
		},
	}
	if cfg != nil {
		cfg(srv.TLS)
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ps.Server = srv
	return ps
}

// dialTo returns a Dial function that connects to addr whatever it is asked for, and
// records the addresses requested.
func dialTo(addr string, asked *[]string, mu *sync.Mutex) func(ctx context.Context, network, a string) (net.Conn, error) {
	return func(ctx context.Context, network, a string) (net.Conn, error) {
		mu.Lock()
		*asked = append(*asked, a)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func servePolicy(ct, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct == "-" {
			w.Header()["Content-Type"] = nil // suppress content sniffing
		} else {
			w.Header().Set("Content-Type", ct)
		}
		fmt.Fprint(w, body)
	}
}

func TestFetch(t *testing.T) {
	p := newPKI(t)
	const smallMax = 1024
	paddedTo := func(n int) string { // a valid policy of exactly n bytes
		pad := n - len(validBody) - len("x: \n")
		return validBody + "x: " + strings.Repeat("a", pad) + "\n"
	}
	tests := []struct {
		name    string
		cert    tls.Certificate
		tlsCfg  func(*tls.Config)
		handler http.HandlerFunc
		maxBody int64
		want    ResultType // "" means success
		wantErr error      // checked with errors.Is when set
		wantMsg string     // the error's text contains it, when set
		wantMX  []string
	}{
		{name: "§3.3 valid enforce policy", cert: p.good, handler: servePolicy("text/plain", validBody),
			wantMX: []string{"mail.example.com", "*.example.net"}},
		{name: "§3.3 text/plain with charset parameter", cert: p.good, handler: servePolicy("text/plain; charset=utf-8", validBody)},
		{name: "§3.3 media type is case-insensitive", cert: p.good, handler: servePolicy("Text/Plain; Charset=UTF-8", validBody)},
		{name: "§3.3 HTTP/2 server", cert: p.good, tlsCfg: func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} }, handler: func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor != 2 {
				w.WriteHeader(http.StatusHTTPVersionNotSupported)
				return
			}
			servePolicy("text/plain", validBody)(w, r)
		}},
		{name: "§3.3 301 redirect is not followed", cert: p.good, handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved" {
				servePolicy("text/plain", validBody)(w, r)
				return
			}
			http.Redirect(w, r, "https://mta-sts.example.com/moved", http.StatusMovedPermanently)
		}, want: ResultFetchError, wantErr: ErrRedirect},
		{name: "§3.3 302 redirect is not followed", cert: p.good, handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, want: ResultFetchError, wantErr: ErrRedirect},
		{name: "§3.3 404", cert: p.good, handler: http.NotFound, want: ResultFetchError, wantErr: ErrHTTPStatus},
		{name: "§3.3 500 with a valid body", cert: p.good, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, validBody)
		}, want: ResultFetchError, wantErr: ErrHTTPStatus},
		{name: "§3.3 wrong content type text/html", cert: p.good, handler: servePolicy("text/html", validBody), want: ResultFetchError, wantErr: ErrContentType},
		{name: "§3.3 wrong content type application/octet-stream", cert: p.good, handler: servePolicy("application/octet-stream", validBody), want: ResultFetchError, wantErr: ErrContentType},
		{name: "§3.3 content type text/plainx", cert: p.good, handler: servePolicy("text/plainx", validBody), want: ResultFetchError, wantErr: ErrContentType},
		{name: "§3.3 missing content type", cert: p.good, handler: servePolicy("-", validBody), want: ResultFetchError, wantErr: ErrContentType},
		{name: "conformance §4 body of 64 KiB accepted", cert: p.good, handler: servePolicy("text/plain", paddedTo(DefaultMaxBody))},
		{name: "conformance §4 oversize body (Content-Length)", cert: p.good, handler: func(w http.ResponseWriter, r *http.Request) {
			b := paddedTo(DefaultMaxBody + 1)
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			servePolicy("text/plain", b)(w, r)
		},
			want: ResultFetchError, wantErr: ErrBodyTooLarge},
		{name: "conformance §4 chunked oversize body", cert: p.good, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, validBody)
			w.(http.Flusher).Flush() // no Content-Length from here on
			line := "x: " + strings.Repeat("a", 1000) + "\n"
			for range 100 {
				if _, err := fmt.Fprint(w, line); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}, want: ResultFetchError, wantErr: ErrBodyTooLarge},
		{name: "MaxBody boundary: exactly MaxBody, chunked", cert: p.good, maxBody: smallMax, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			b := paddedTo(smallMax)
			fmt.Fprint(w, b[:100])
			w.(http.Flusher).Flush()
			fmt.Fprint(w, b[100:])
		}},
		{name: "MaxBody boundary: MaxBody+1, chunked", cert: p.good, maxBody: smallMax, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			b := paddedTo(smallMax + 1)
			fmt.Fprint(w, b[:100])
			w.(http.Flusher).Flush()
			fmt.Fprint(w, b[100:])
		}, want: ResultFetchError, wantErr: ErrBodyTooLarge},
		{name: "§3.3 certificate from an untrusted CA", cert: p.untrustedCA, handler: servePolicy("text/plain", validBody), want: ResultWebPKIInvalid},
		{name: "§3.3 certificate for another name", cert: p.wrongName, handler: servePolicy("text/plain", validBody), want: ResultWebPKIInvalid},
		{name: "§3.3 TLS 1.1-only server refused", cert: p.good, tlsCfg: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 },
			handler: servePolicy("text/plain", validBody), want: ResultFetchError, wantMsg: "protocol version not supported"},
		{name: "§3.3 TLS 1.2 server accepted", cert: p.good, tlsCfg: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12 },
			handler: servePolicy("text/plain", validBody)},
		{name: "§3.2 invalid policy is sts-policy-invalid", cert: p.good, handler: servePolicy("text/plain", "version: STSv1\nmode: enforce\nmax_age: 5\n"),
			want: ResultPolicyInvalid, wantErr: ErrInvalidPolicy},
		{name: "§3.2 HTML body served as text/plain", cert: p.good, handler: servePolicy("text/plain", "<html>hello</html>"),
			want: ResultPolicyInvalid, wantErr: ErrInvalidPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startPolicyServer(t, tc.cert, tc.tlsCfg, tc.handler)
			var mu sync.Mutex
			var asked []string
			f := NewFetcher(FetcherConfig{
				Dial:    dialTo(srv.Listener.Addr().String(), &asked, &mu),
				RootCAs: p.trusted,
				Timeout: 5 * time.Second,
				MaxBody: tc.maxBody,
			})
			res, err := f.Fetch(context.Background(), testDomain)
			mu.Lock()
			defer mu.Unlock()
			for _, a := range asked {
				if a != testSTSHost+":443" {
					t.Errorf("dialed %q, want %s:443", a, testSTSHost)
				}
			}
			srv.mu.Lock()
			for _, s := range srv.sni {
				if s != testSTSHost {
					t.Errorf("SNI %q, want %s", s, testSTSHost)
				}
			}
			for _, h := range srv.hosts {
				if h != testSTSHost {
					t.Errorf("Host %q, want %s", h, testSTSHost)
				}
			}
			srv.mu.Unlock()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if res.URL != "https://mta-sts.example.com/.well-known/mta-sts.txt" || res.Policy == nil || len(res.Body) == 0 || res.ContentType == "" {
					t.Fatalf("Fetch = %+v", res)
				}
				if tc.wantMX != nil && strings.Join(res.Policy.MX, ",") != strings.Join(tc.wantMX, ",") {
					t.Fatalf("MX = %v, want %v", res.Policy.MX, tc.wantMX)
				}
				return
			}
			var fe *FetchError
			if !errors.As(err, &fe) {
				t.Fatalf("Fetch = %+v, %v; want a *FetchError", res, err)
			}
			if fe.Type != tc.want || fe.Domain != testDomain {
				t.Fatalf("FetchError %+v (%v), want type %s", fe, err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v does not wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tc.wantMsg)
			}
			if res != nil {
				t.Fatalf("result %+v returned with an error", res)
			}
		})
	}
}

// TestFetchRedirectTargetNotRequested checks that a 3xx response ends the fetch with one
// request (RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed").
func TestFetchRedirectTargetNotRequested(t *testing.T) {
	p := newPKI(t)
	srv := startPolicyServer(t, p.good, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			t.Errorf("redirect followed to %s", r.URL)
		}
		http.Redirect(w, r, "/moved", http.StatusMovedPermanently)
	})
	var mu sync.Mutex
	var asked []string
	f := NewFetcher(FetcherConfig{Dial: dialTo(srv.Listener.Addr().String(), &asked, &mu), RootCAs: p.trusted})
	if _, err := f.Fetch(context.Background(), testDomain); !errors.Is(err, ErrRedirect) {
		t.Fatalf("Fetch error %v, want ErrRedirect", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// TestFetchNoHTTPCaching checks that every Fetch asks the server again and returns what it
// serves now (RFC 8461 §3.3: "HTTP caching MUST NOT be used").
func TestFetchNoHTTPCaching(t *testing.T) {
	p := newPKI(t)
	var n atomic.Int32
	srv := startPolicyServer(t, p.good, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			t.Errorf("conditional request headers sent: %v", r.Header)
		}
		mode := "testing"
		if n.Add(1) > 1 {
			mode = "enforce"
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=86400")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprintf(w, "version: STSv1\nmode: %s\nmx: mail.example.com\nmax_age: 86400\n", mode)
	})
	var mu sync.Mutex
	var asked []string
	f := NewFetcher(FetcherConfig{Dial: dialTo(srv.Listener.Addr().String(), &asked, &mu), RootCAs: p.trusted})
	for i, want := range []Mode{ModeTesting, ModeEnforce} {
		res, err := f.Fetch(context.Background(), testDomain)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if res.Policy.Mode != want {
			t.Fatalf("fetch %d: mode %s, want %s", i, res.Policy.Mode, want)
		}
	}
}

// TestFetchStalled checks that a policy host that stops answering at any stage is
// abandoned within the configured timeout (conformance.md §4: bounded total time).
func TestFetchStalled(t *testing.T) {
	p := newPKI(t)
	const timeout = 500 * time.Millisecond
	const slack = 2 * time.Second
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	block := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}

	// A TCP listener that accepts and never speaks TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var connMu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		connMu.Lock()
		defer connMu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connMu.Lock()
			conns = append(conns, c)
			connMu.Unlock()
		}
	}()

	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"stalled TLS handshake", func(*testing.T) string { return ln.Addr().String() }},
		{"stalled before headers", func(t *testing.T) string {
			return startPolicyServer(t, p.good, nil, func(w http.ResponseWriter, r *http.Request) { block(r) }).Listener.Addr().String()
		}},
		{"stalled in the body", func(t *testing.T) string {
			return startPolicyServer(t, p.good, nil, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "1000")
				fmt.Fprint(w, "version: STSv1\n")
				w.(http.Flusher).Flush()
				block(r)
			}).Listener.Addr().String()
		}},
		// Every prefix of this body that ends in a newline is a valid policy: a body cut
		// short by the deadline must still fail, not yield a policy with fewer mx.
		{"trickling body", func(t *testing.T) string {
			return startPolicyServer(t, p.good, nil, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprint(w, validBody)
				for i := 0; ; i++ {
					if _, err := fmt.Fprintf(w, "mx: mx%d.example.com\n", i); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-release:
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}).Listener.Addr().String()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			f := NewFetcher(FetcherConfig{Dial: dialTo(tc.addr(t), &asked, &mu), RootCAs: p.trusted, Timeout: timeout})
			start := time.Now()
			_, err := f.Fetch(context.Background(), testDomain)
			elapsed := time.Since(start)
			var fe *FetchError
			if !errors.As(err, &fe) || fe.Type != ResultFetchError {
				t.Fatalf("Fetch error %v, want a sts-policy-fetch-error", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
			if elapsed > timeout+slack {
				t.Fatalf("Fetch took %v, want at most %v", elapsed, timeout+slack)
			}
		})
	}
}

// TestFetchInvalidDomain checks that names that are not lower-case A-label host names are
// refused before any connection is made.
func TestFetchInvalidDomain(t *testing.T) {
	var dials atomic.Int32
	f := NewFetcher(FetcherConfig{Dial: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("must not dial")
	}})
	for _, d := range []string{
		"", "Example.com", "example.com.", ".example.com", "192.0.2.1", "[192.0.2.1]", "example.com:443",
		"exa_mple.com", "bücher.example", "-a.example", "a-.example", "a..example", "example.com/x",
		"a b.example", strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefghi.", 25) + "example",
	} {
		t.Run(d, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), d)
			var fe *FetchError
			if !errors.As(err, &fe) || fe.Type != ResultFetchError || !errors.Is(err, ErrInvalidDomain) {
				t.Fatalf("Fetch(%q) error %v, want ErrInvalidDomain", d, err)
			}
		})
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("%d dials for invalid domains", n)
	}
}

// TestFetchCanceledContext checks that the caller's context bounds the fetch too.
func TestFetchCanceledContext(t *testing.T) {
	f := NewFetcher(FetcherConfig{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.Fetch(ctx, testDomain)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestNewFetcherRequiresDial(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewFetcher without Dial did not panic")
		}
	}()
	NewFetcher(FetcherConfig{})
}
