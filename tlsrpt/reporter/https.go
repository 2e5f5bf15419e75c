package reporter

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// HTTPSSender POSTs reports to https: rua destinations (RFC 8460 §5.2). Connections go
// through Dial (the resolver's dialer, with its SSRF guard); the server's certificate is
// verified against RootCAs (nil: the system roots); redirects are refused.
type HTTPSSender struct {
	Dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	RootCAs   *x509.CertPool
	Timeout   time.Duration // whole request; 0 means 60 s
	UserAgent string
	client    *http.Client
}

// ErrRedirect is returned for a 3xx answer: reports are not sent elsewhere than the
// published URI.
var ErrRedirect = errors.New("redirect refused")

func (s *HTTPSSender) init() {
	if s.client != nil {
		return
	}
	tr := &http.Transport{
		DialContext:         s.Dial,
		TLSClientConfig:     &tls.Config{RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 15 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        4,
		IdleConnTimeout:     30 * time.Second,
		Proxy:               nil, // never through a proxy: the guard must see the real peer
	}
	s.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Send POSTs the gzip report to u with Content-Type application/tlsrpt+gzip. A 2xx answer
// is success.
func (s *HTTPSSender) Send(ctx context.Context, u *url.URL, _ *Message, gz []byte) error {
	if u.Scheme != "https" {
		return fmt.Errorf("reporter: %s is not an https URI", u)
	}
	s.init()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("reporter: %w", err)
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("reporter: POST %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("reporter: POST %s: %w (%s to %q)", u.Redacted(), ErrRedirect, resp.Status, resp.Header.Get("Location"))
	}
	return fmt.Errorf("reporter: POST %s: %s", u.Redacted(), resp.Status)
}
