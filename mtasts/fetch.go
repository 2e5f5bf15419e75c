package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"time"
)

// Fetch defaults.
const (
	DefaultFetchTimeout = 10 * time.Second
	DefaultMaxBody      = 64 << 10 // 64 KiB (conformance.md §4)
	defaultUserAgent    = "mailtls-mta-sts"
	// maxHeaderBytes bounds the response headers a policy host may send.
	maxHeaderBytes = 16 << 10
)

// Sentinel errors wrapped in FetchError.Err for the HTTP-level rules of RFC 8461 §3.3.
var (
	ErrInvalidDomain = errors.New("not a valid A-label domain name")
	ErrRedirect      = errors.New("redirect not followed")
	ErrHTTPStatus    = errors.New("HTTP status is not 200")
	ErrContentType   = errors.New("content type is not text/plain")
	ErrBodyTooLarge  = errors.New("policy body too large")
)

// FetcherConfig configures a Fetcher.
type FetcherConfig struct {
	// Dial connects to the policy host; required. The daemon resolves the host through
	// its own DNS client here (RFC 8461 §3.3 policy hosts are ordinary names, and every
	// name mailtls uses is resolved by the same trusted resolver); tests point it at a
	// local server.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs are the trusted roots; nil means the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds a whole fetch: dial, TLS, headers and body. Default 10 s.
	Timeout time.Duration
	// MaxBody is the largest accepted policy body in bytes. Default 64 KiB.
	MaxBody int64
	// UserAgent is sent in the User-Agent header; a default is used when empty.
	UserAgent string
}

// Fetcher fetches MTA-STS policies over HTTPS (RFC 8461 §3.3). It is safe for concurrent
// use and reuses one HTTP client.
type Fetcher struct {
	client    *http.Client
	timeout   time.Duration
	maxBody   int64
	userAgent string
}

// FetchResult is a fetched and parsed policy.
type FetchResult struct {
	Policy      *Policy
	Body        []byte
	URL         string
	ContentType string
}

// NewFetcher returns a Fetcher for cfg. It panics if cfg.Dial is nil: a fetcher that
// resolved names through the system resolver would bypass the configured one.
func NewFetcher(cfg FetcherConfig) *Fetcher {
	if cfg.Dial == nil {
		panic("mtasts: FetcherConfig.Dial is required")
	}
	f := &Fetcher{timeout: cfg.Timeout, maxBody: cfg.MaxBody, userAgent: cfg.UserAgent}
	if f.timeout <= 0 {
		f.timeout = DefaultFetchTimeout
	}
	if f.maxBody <= 0 {
		f.maxBody = DefaultMaxBody
	}
	if f.userAgent == "" {
		f.userAgent = defaultUserAgent
	}
	tr := &http.Transport{
		Proxy:       nil, // RFC 8461 §3.3: no HTTP caching, so no intermediary either
		DialContext: cfg.Dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    cfg.RootCAs,
			MinVersion: tls.VersionTLS12, // RFC 8461 §3.3 via RFC 7525: TLS 1.2 or later
		},
		ForceAttemptHTTP2:      true,
		DisableCompression:     true, // the size limit then applies to the bytes sent
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        30 * time.Second,
	}
	f.client = &http.Client{
		Transport: tr,
		// RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed". Returning the 3xx
		// response lets Fetch report it with its status.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return f
}

// CloseIdleConnections closes the kept-alive connections to policy hosts; a fetcher being
// replaced (configuration reload) calls it so none outlives it.
func (f *Fetcher) CloseIdleConnections() { f.client.CloseIdleConnections() }

// PolicyURL returns the policy URL of domain (RFC 8461 §3.3).
func PolicyURL(domain string) string {
	return "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
}

// Fetch retrieves and parses domain's policy from https://mta-sts.<domain>/.well-known/
// mta-sts.txt (RFC 8461 §3.3). domain must be a lower-case A-label host name without
// trailing dot; anything else is refused before any connection. Only a 200 response with
// media type text/plain and a body of at most MaxBody bytes is accepted; redirects are not
// followed and no HTTP cache is used. Every failure is a *FetchError: a certificate that
// does not validate for "mta-sts.<domain>" is ResultWebPKIInvalid, a body that does not
// parse is ResultPolicyInvalid, everything else ResultFetchError. The whole fetch is
// bounded by the configured Timeout (and by ctx).
func (f *Fetcher) Fetch(ctx context.Context, domain string) (*FetchResult, error) {
	fail := func(t ResultType, err error) (*FetchResult, error) {
		return nil, &FetchError{Domain: domain, Type: t, Err: err}
	}
	if !validHostname(domain) || strings.ToLower(domain) != domain || len("mta-sts."+domain) > maxHostnameLen {
		return fail(ResultFetchError, fmt.Errorf("%w: %q", ErrInvalidDomain, domain))
	}
	return f.fetch(ctx, domain, PolicyURL(domain))
}

// FetchURL is Fetch for a policy at an arbitrary https URL, under the same rules (status
// 200 only, no redirects, text/plain, size limit, valid syntax, certificate valid for the
// URL's host): for a policy host that mirrors another host's policy and must never accept
// what a sender would refuse. Failures are *FetchError with Domain set to the URL's host.
func (f *Fetcher) FetchURL(ctx context.Context, rawURL string) (*FetchResult, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, &FetchError{Domain: rawURL, Type: ResultFetchError, Err: fmt.Errorf("%w: %q is not an https URL", ErrInvalidDomain, rawURL)}
	}
	return f.fetch(ctx, u.Hostname(), u.String())
}

// fetch retrieves and checks the policy at url on behalf of domain (for errors).
func (f *Fetcher) fetch(ctx context.Context, domain, url string) (*FetchResult, error) {
	fail := func(t ResultType, err error) (*FetchResult, error) {
		return nil, &FetchError{Domain: domain, Type: t, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(ResultFetchError, err)
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "text/plain")
	resp, err := f.client.Do(req)
	if err != nil {
		return fail(classifyTransport(err), err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fail(ResultFetchError, fmt.Errorf("%w: status %s, Location %q", ErrRedirect, resp.Status, resp.Header.Get("Location")))
	case resp.StatusCode != http.StatusOK:
		return fail(ResultFetchError, fmt.Errorf("%w: %s", ErrHTTPStatus, resp.Status))
	}
	ct := resp.Header.Get("Content-Type")
	// RFC 8461 §3.2: the policy is served as "text/plain"; parameters such as charset
	// are allowed. mime.ParseMediaType lower-cases the media type.
	if mt, _, err := mime.ParseMediaType(ct); mt != "text/plain" || err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return fail(ResultFetchError, fmt.Errorf("%w: %q", ErrContentType, ct))
	}
	if resp.ContentLength > f.maxBody {
		return fail(ResultFetchError, fmt.Errorf("%w: Content-Length %d > %d", ErrBodyTooLarge, resp.ContentLength, f.maxBody))
	}
	// Read one byte more than allowed so that an oversize body (chunked, or lying about
	// its length) is detected rather than truncated.
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err == nil && ctx.Err() != nil {
		// When the deadline cancels a chunked response, net/http can end the body with a
		// clean EOF; a body cut short must never be parsed as a complete policy (a
		// truncated mx list would be enforced).
		err = context.Cause(ctx)
	}
	if err != nil {
		return fail(classifyTransport(err), fmt.Errorf("reading body: %w", err))
	}
	if int64(len(body)) > f.maxBody {
		return fail(ResultFetchError, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, f.maxBody))
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return fail(ResultPolicyInvalid, err)
	}
	return &FetchResult{Policy: p, Body: body, URL: url, ContentType: ct}, nil
}
