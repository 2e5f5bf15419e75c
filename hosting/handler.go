package hosting

import "net/http"

// WellKnownPath is the policy's path (RFC 8461 §3.3).
const WellKnownPath = "/.well-known/mta-sts.txt"

// Header values shared by every response (net/http does not modify them).
var (
	hdrTextPlain = []string{"text/plain"} // RFC 8461 §3.2: media type text/plain
	// Senders must not use HTTP caching (RFC 8461 §3.3) and nothing in between should
	// either: a changed policy (new id) must be seen at once.
	hdrNoCache = []string{"no-cache"}
	hdrNoSniff = []string{"nosniff"}
)

// ServeHTTP answers GET (or HEAD) /.well-known/mta-sts.txt for Host mta-sts.<hosted
// domain> with 200 and the policy; a domain with nothing valid to serve gets 503; any
// other method, path, query or host gets 404. It never redirects (RFC 8461 §3.3: senders
// must not follow redirects).
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, class := h.Lookup(r.Host)
	hdr := w.Header()
	hdr["X-Content-Type-Options"] = hdrNoSniff
	hdr["Cache-Control"] = hdrNoCache
	status := http.StatusOK
	switch {
	case p == nil && class != ClassUnknown:
		status = http.StatusServiceUnavailable // configured, not computed yet
	case p == nil || r.URL.Path != WellKnownPath || r.URL.RawQuery != "" ||
		r.Method != http.MethodGet && r.Method != http.MethodHead:
		status = http.StatusNotFound
	case !p.Servable(h.opts.Now()):
		status = http.StatusServiceUnavailable
	}
	h.opts.Metrics.request(class, status)
	if status != http.StatusOK {
		hdr["Content-Type"] = hdrTextPlain
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			w.Write([]byte(http.StatusText(status) + "\n"))
		}
		return
	}
	hdr["Content-Type"] = hdrTextPlain
	hdr["Content-Length"] = p.contentLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(p.Body)
	}
}
