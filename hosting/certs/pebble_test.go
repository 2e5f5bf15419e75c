package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/crypto/acme"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/pebbletest"
)

// served is the name set the test's policy host serves.
func hostedSet(names ...string) func(string) bool {
	return func(n string) bool {
		for _, h := range names {
			if n == h {
				return true
			}
		}
		return false
	}
}

// handshake connects to addr with SNI name, trusting roots, and returns the leaf.
func handshake(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// serveTLS serves a trivial handler over TLS with m's certificates on ln.
func serveTLS(t *testing.T, ln net.Listener, m *Manager) {
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: nil,
		TLSConfig: &tls.Config{GetCertificate: m.GetCertificate, NextProtos: []string{"http/1.1", acme.ALPNProto}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

// Certificates from a real ACME CA (Pebble, RFC 8555) with real validation: issuance
// through TLS-ALPN-01 (RFC 8737) on the HTTPS listener and through HTTP-01 on the plain
// listener, External Account Binding, refusal for a name that is not hosted, renewal
// before expiry, and a restart that serves the stored certificate with the CA gone.
func TestACMEWithPebble(t *testing.T) {
	dns := dnstest.New(t)
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// HTTP-01 is answered on 127.0.0.2, where nothing listens on the TLS port: for the
	// name resolving there, TLS-ALPN-01 must fail and HTTP-01 carry the validation.
	httpLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := httpsLn.Addr().(*net.TCPAddr).Port
	httpPort := httpLn.Addr().(*net.TCPAddr).Port
	dns.Add("mta-sts.alpn.test. 60 IN A 127.0.0.1", "mta-sts.http.test. 60 IN A 127.0.0.2")
	// Short-lived certificates so that renewal happens within the test.
	const validity = 150 * time.Second
	peb := pebbletest.Start(t, pebbletest.Options{DNS: dns.Addr, TLSPort: tlsPort, HTTPPort: httpPort, Validity: validity, EAB: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	roots, _ := peb.Roots(ctx)

	cacheDir := filepath.Join(t.TempDir(), "acme")
	hosted := hostedSet("mta-sts.alpn.test", "mta-sts.http.test")
	newManager := func(reg *prometheus.Registry) *Manager {
		key, err := base64URL(peb.EABKey)
		if err != nil {
			t.Fatal(err)
		}
		return New(Options{Hosted: hosted, CacheDir: cacheDir, Directory: peb.Directory, Contact: "mailto:postmaster@alpn.test",
			EAB: &acme.ExternalAccountBinding{KID: peb.EABKID, Key: key}, DirectoryRoots: peb.DirectoryCA.Pool(),
			RenewBefore: validity - 40*time.Second, Metrics: NewMetrics(reg), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	reg := prometheus.NewRegistry()
	m := newManager(reg)
	serveTLS(t, httpsLn, m)
	httpsAddr := httpsLn.Addr().String()

	// TLS-ALPN-01: the HTTP-01 handler has not been asked for, so only tls-alpn-01 is tried.
	if err := m.Obtain(ctx, []string{"mta-sts.alpn.test"}); err != nil {
		t.Fatalf("TLS-ALPN-01 issuance: %v", err)
	}
	first, err := handshake(httpsAddr, "mta-sts.alpn.test", roots)
	if err != nil {
		t.Fatalf("certificate from Pebble does not validate: %v", err)
	}
	if len(first.DNSNames) != 1 || first.DNSNames[0] != "mta-sts.alpn.test" {
		t.Errorf("certificate names %v", first.DNSNames)
	}
	if got := counterValue(m.opts.Metrics.events.WithLabelValues("issued")); got != 1 {
		t.Errorf("issued counter %v", got)
	}

	// Refusal: a name that is not hosted is never asked for, in a handshake or directly.
	if _, err := handshake(httpsAddr, "mta-sts.other.test", roots); err == nil {
		t.Error("handshake succeeded for a name that is not hosted")
	}
	if err := m.Obtain(ctx, []string{"mta-sts.other.test"}); !errors.Is(err, ErrNotHosted) {
		t.Errorf("Obtain for a name not hosted: %v", err)
	}
	if err := m.hostPolicy(ctx, "mta-sts.other.test"); !errors.Is(err, ErrNotHosted) {
		t.Errorf("host policy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "mta-sts.other.test")); err == nil {
		t.Error("a certificate was stored for a name not hosted")
	}

	// HTTP-01 on the plain listener, which answers nothing but challenges.
	var challenges atomic.Int32
	h := m.HTTPHandler()
	httpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			challenges.Add(1)
		}
		h.ServeHTTP(w, r)
	})}
	go httpSrv.Serve(httpLn)
	t.Cleanup(func() { httpSrv.Close() })
	resp, err := http.Get("http://" + httpLn.Addr().String() + "/")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("plain listener, other path: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := m.Obtain(ctx, []string{"mta-sts.http.test"}); err != nil {
		t.Fatalf("HTTP-01 issuance: %v", err)
	}
	if challenges.Load() == 0 {
		t.Error("Pebble validated mta-sts.http.test without an HTTP-01 request")
	}
	if _, err := handshake(httpsAddr, "mta-sts.http.test", roots); err != nil {
		t.Fatalf("HTTP-01 certificate: %v", err)
	}

	// Renewal: autocert renews RenewBefore ahead of expiry (here about 40 s after issue).
	var renewed *x509.Certificate
	for deadline := time.Now().Add(validity - 30*time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		c, err := handshake(httpsAddr, "mta-sts.alpn.test", roots)
		if err == nil && c.SerialNumber.Cmp(first.SerialNumber) != 0 {
			renewed = c
			break
		}
	}
	if renewed == nil {
		t.Fatal("certificate was not renewed before expiry")
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %s, not after %s", renewed.NotAfter, first.NotAfter)
	}
	if got := counterValue(m.opts.Metrics.events.WithLabelValues("renewed")); got < 1 {
		t.Errorf("renewed counter %v", got)
	}

	// Restart with the CA gone: the stored certificate is served as it is.
	peb.Stop()
	httpsLn.Close()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m2 := newManager(prometheus.NewRegistry())
	serveTLS(t, ln2, m2)
	again, err := handshake(ln2.Addr().String(), "mta-sts.alpn.test", roots)
	if err != nil {
		t.Fatalf("after restart without the CA: %v", err)
	}
	if again.NotAfter.Before(renewed.NotAfter) {
		t.Errorf("restart served a certificate expiring %s, older than the renewed one (%s)", again.NotAfter, renewed.NotAfter)
	}
	if err := m2.Obtain(ctx, []string{"mta-sts.alpn.test", "mta-sts.http.test"}); err != nil {
		t.Errorf("stored certificates not reused: %v", err)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
