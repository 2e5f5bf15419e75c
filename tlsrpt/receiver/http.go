package receiver

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Handler is the HTTPS endpoint reporters POST to (RFC 8460 §5.2): Content-Type
// application/tlsrpt+gzip or application/tlsrpt+json. Answers: 202 for a stored or
// already stored report; 400 malformed; 403 not about our domains; 405 not a POST; 413
// over a size or count limit (an announced Content-Length over the limit is refused
// before the body is read); 415 another media type; 429 over a rate limit (per client or
// in all); 503 when the store fails (the reporter retries).
type Handler struct {
	rc      *Receiver
	limiter *rateLimiter // per client; nil: none
	total   *rateLimiter // all clients together, under one key; nil: none
}

// RateLimit bounds the reports the Handler takes. Zero fields disable their limit.
type RateLimit struct {
	// PerClient is the reports one client may POST per Window. A client is its IPv4
	// address, or the /64 of its IPv6 address (one site's prefix: a host there has
	// many addresses to choose from).
	PerClient int
	// Total is the reports all clients together may POST per Window, so that many
	// clients cannot fill the store between them.
	Total  int
	Window time.Duration // default one hour
}

// NewHandler serves rc within rl.
func NewHandler(rc *Receiver, rl RateLimit) *Handler {
	h := &Handler{rc: rc}
	window := rl.Window
	if window <= 0 {
		window = time.Hour
	}
	if rl.PerClient > 0 {
		h.limiter = newRateLimiter(rl.PerClient, window)
	}
	if rl.Total > 0 {
		h.total = newRateLimiter(rl.Total, window)
	}
	return h
}

// clientKey names the client of a request for the per-client limit: the IPv4 address,
// or the /64 prefix of the IPv6 address.
func clientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Is4() || ip.Is4In6() {
		return addr
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lim := h.rc.Limits.withDefaults()
	fail := func(code int, outcome, msg string) {
		h.rc.Metrics.report("https", outcome)
		h.rc.log().Info("tlsrpt: report refused", "source", "https", "client", r.RemoteAddr, "status", code, "reason", msg)
		http.Error(w, msg, code)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "malformed", "POST a TLS report (RFC 8460 §5.2)")
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var gz bool
	switch {
	case err == nil && mt == "application/tlsrpt+gzip":
		gz = true
	case err == nil && mt == "application/tlsrpt+json":
	default:
		fail(http.StatusUnsupportedMediaType, "malformed", "Content-Type must be application/tlsrpt+gzip or application/tlsrpt+json (RFC 8460 §5.2)")
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		fail(http.StatusUnsupportedMediaType, "malformed", "Content-Encoding "+ce+" is not accepted; send application/tlsrpt+gzip")
		return
	}
	if r.ContentLength > lim.MaxCompressed {
		fail(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("report over %d bytes", lim.MaxCompressed))
		return
	}
	client := r.RemoteAddr
	if host, _, err := net.SplitHostPort(client); err == nil {
		client = host
	}
	if h.limiter != nil && !h.limiter.allow(clientKey(client), h.rc.now()) {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.limiter.window.Seconds())))
		fail(http.StatusTooManyRequests, "rate_limited", "too many reports from this address")
		return
	}
	if h.total != nil && !h.total.allow("", h.rc.now()) {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.total.window.Seconds())))
		fail(http.StatusTooManyRequests, "rate_limited", "too many reports received; try again later")
		return
	}
	raw, err := ReadBody(r.Body, gz, lim)
	if err == nil {
		_, _, err = h.rc.Accept(r.Context(), raw, Origin{Source: "https", Submitter: client})
	}
	switch {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case errors.Is(err, ErrTooLarge):
		fail(http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.Is(err, ErrMalformed):
		fail(http.StatusBadRequest, "malformed", err.Error())
	case errors.Is(err, ErrNotOurs):
		fail(http.StatusForbidden, "not_ours", err.Error())
	default:
		h.rc.log().Error("tlsrpt: storing a received report", "err", err)
		fail(http.StatusServiceUnavailable, "error", "report not stored; try again later")
	}
}
