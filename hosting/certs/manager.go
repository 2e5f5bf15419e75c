package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ErrNotHosted is returned for a server name this host does not serve: no certificate is
// ever requested for it (the ACME host policy).
var ErrNotHosted = errors.New("not a hosted policy host name")

// Options configure a Manager.
type Options struct {
	// Hosted reports whether a lower-case name is a policy host name served here.
	Hosted func(name string) bool
	// CacheDir holds the ACME account key and certificates ("" turns ACME off).
	CacheDir string
	// Directory is the ACME directory URL; Contact an e-mail address ("" for none).
	Directory string
	Contact   string
	// EAB is the External Account Binding when the CA needs one (RFC 8555 §7.3.4).
	EAB *acme.ExternalAccountBinding
	// DirectoryRoots are trusted for the CA's HTTPS; nil means the system roots.
	DirectoryRoots *x509.CertPool
	// RenewBefore renews this long before expiry (autocert caps it at 30 days).
	RenewBefore time.Duration
	Metrics     *Metrics
	Log         *slog.Logger
}

// Manager hands out certificates for the HTTPS listener.
type Manager struct {
	opts   Options
	acme   *autocert.Manager // nil when ACME is off
	static atomic.Pointer[map[string]*tls.Certificate]
}

// New returns a Manager. Static certificates are installed with SetStatic.
func New(opts Options) *Manager {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts}
	empty := map[string]*tls.Certificate{}
	m.static.Store(&empty)
	if opts.CacheDir != "" {
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: opts.DirectoryRoots, MinVersion: tls.VersionTLS12},
		}}
		var contact string
		if opts.Contact != "" {
			contact = strings.TrimPrefix(opts.Contact, "mailto:")
		}
		m.acme = &autocert.Manager{
			Prompt:                 autocert.AcceptTOS,
			Cache:                  &countingCache{DirCache: autocert.DirCache(opts.CacheDir), metrics: opts.Metrics, log: opts.Log},
			HostPolicy:             m.hostPolicy,
			RenewBefore:            opts.RenewBefore,
			Client:                 &acme.Client{DirectoryURL: opts.Directory, HTTPClient: hc, UserAgent: "mailtls"},
			Email:                  contact,
			ExternalAccountBinding: opts.EAB,
		}
	}
	return m
}

// hostPolicy allows ACME only for hosted policy host names that have no static
// certificate: the CA is never asked for a name this host does not serve.
func (m *Manager) hostPolicy(_ context.Context, host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h // HTTP-01 passes the Host header, which may carry a port
	}
	host = strings.ToLower(host)
	if !m.opts.Hosted(host) {
		return fmt.Errorf("%w: %s", ErrNotHosted, host)
	}
	if _, ok := (*m.static.Load())[host]; ok {
		return fmt.Errorf("%s has a certificate file; ACME is not used for it", host)
	}
	return nil
}

// GetCertificate is the HTTPS listener's tls.Config.GetCertificate: a static certificate
// when one is configured for the name, else ACME (which also answers TLS-ALPN-01
// challenges), else an error that fails the handshake.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if name == "" {
		return nil, errors.New("no server name (SNI) in the TLS handshake")
	}
	if c, ok := (*m.static.Load())[name]; ok {
		return c, nil
	}
	if !m.opts.Hosted(name) {
		return nil, fmt.Errorf("%w: %s", ErrNotHosted, name)
	}
	if m.acme == nil {
		return nil, fmt.Errorf("no certificate for %s: neither a certificate file nor ACME", name)
	}
	c, err := m.acme.GetCertificate(hello)
	if isChallenge(hello) {
		return c, err
	}
	if err != nil {
		m.opts.Metrics.failure()
		m.opts.Log.Warn("hosting: ACME certificate unavailable", "name", name, "err", err)
		return nil, err
	}
	m.opts.Metrics.expiry(name, c)
	return c, nil
}

// isChallenge reports a TLS-ALPN-01 validation connection (RFC 8737 §3).
func isChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// HTTPHandler answers ACME HTTP-01 challenges (RFC 8555 §8.3) for hosted names and 404
// for everything else: the plain-HTTP listener never redirects and serves nothing else.
// It also makes HTTP-01 a challenge type the manager offers. Nil when ACME is off.
func (m *Manager) HTTPHandler() http.Handler {
	if m.acme == nil {
		return nil
	}
	return m.acme.HTTPHandler(http.NotFoundHandler())
}

// ACME reports whether certificates can come from ACME.
func (m *Manager) ACME() bool { return m.acme != nil }

// Obtain makes sure names have certificates, asking the CA for those that have none or
// are due for renewal, one at a time; it returns the errors joined. The daemon calls it
// at start and periodically, so the first sender never waits for issuance and the expiry
// metric stays current.
func (m *Manager) Obtain(ctx context.Context, names []string) error {
	var errs []error
	for _, n := range names {
		if ctx.Err() != nil {
			break
		}
		if _, ok := (*m.static.Load())[n]; ok {
			continue
		}
		if _, err := m.GetCertificate(helloFor(n)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// helloFor is a ClientHello as a modern client sends it, for obtaining name's (ECDSA)
// certificate outside a handshake.
func helloFor(name string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:        name,
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
}
