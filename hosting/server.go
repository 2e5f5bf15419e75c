package hosting

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits of the policy host's HTTP servers, all through net/http's own settings: a
// policy request is a few hundred bytes each way, so anything slow or large is hostile.
const (
	ReadHeaderTimeout = 5 * time.Second  // slow headers (and the TLS handshake) cut off
	ReadTimeout       = 10 * time.Second // a whole request
	WriteTimeout      = 10 * time.Second // a whole response
	IdleTimeout       = 60 * time.Second // keep-alive between requests
	MaxHeaderBytes    = 8 << 10          // request headers
	maxH2Streams      = 16               // concurrent HTTP/2 streams per connection
)

// NewServer returns an http.Server for handler with the limits above, logging its
// connection errors (hostile clients) at debug level only.
func NewServer(handler http.Handler, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxH2Streams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// LimitListener caps concurrent connections on ln at n; further connections wait in the
// kernel's listen queue until one closes (the timeouts above bound how long that takes).
func LimitListener(ln net.Listener, n int) net.Listener { return netutil.LimitListener(ln, n) }

// TLSConfig is the HTTPS listener's TLS configuration: TLS 1.2 or later (RFC 8461 §3.3
// via RFC 7525), certificates from getCert, and the ALPN protocols h2, http/1.1 and
// acme-tls/1 (RFC 8737, for TLS-ALPN-01 challenges on this listener).
func TLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCert,
		NextProtos:     []string{"h2", "http/1.1", "acme-tls/1"},
	}
}
