package hosting

import (
	"strconv"
	"strings"
	"time"

	"github.com/mailtls/mailtls/hosting/policyid"
	"github.com/mailtls/mailtls/mtasts"
)

// Source says where a served policy came from.
type Source string

// Policy sources.
const (
	SourceConfig   Source = "config"   // mode, mx and max_age from the configuration
	SourceMXAuto   Source = "mx-auto"  // mx patterns from the domain's current MX records
	SourceMirror   Source = "mirror"   // an upstream policy, fetched with a sender's rules
	SourceRetiring Source = "retiring" // removed from the configuration: mode none until safe (RFC 8461 §8.3)
)

// Policy is one domain's served policy. It is immutable once built.
type Policy struct {
	Domain string
	Mode   mtasts.Mode
	MX     []string
	MaxAge uint32
	// Body is the policy file exactly as served; ID is policyid.Of(Body).
	Body []byte
	ID   string
	// Source says where it came from; Expires, when set, is when a mirrored copy stops
	// being served (its max_age after it was fetched).
	Source  Source
	Expires time.Time
	// contentLength is the Content-Length header value, rendered once.
	contentLength []string
	// Err, when set, means there is no policy to serve (a mirror without a valid copy,
	// an MX lookup that never succeeded): requests get 503 and hosting check reports it.
	Err string
}

// Render builds the policy file of RFC 8461 §3.2: version, mode, one mx line per
// pattern, max_age, each line ending in CRLF (sts-policy-term), and its content id.
func Render(domain string, mode mtasts.Mode, mx []string, maxAge uint32, src Source) *Policy {
	var b strings.Builder
	b.WriteString("version: " + mtasts.PolicyVersion + "\r\n")
	b.WriteString("mode: " + string(mode) + "\r\n")
	for _, m := range mx {
		b.WriteString("mx: " + m + "\r\n")
	}
	b.WriteString("max_age: " + strconv.FormatUint(uint64(maxAge), 10) + "\r\n")
	body := []byte(b.String())
	return &Policy{Domain: domain, Mode: mode, MX: mx, MaxAge: maxAge, Body: body, ID: policyid.Of(body), Source: src,
		contentLength: []string{strconv.Itoa(len(body))}}
}

// fromBody wraps a policy body fetched elsewhere (a mirror); p is its parse.
func fromBody(domain string, body []byte, p *mtasts.Policy, expires time.Time) *Policy {
	return &Policy{Domain: domain, Mode: p.Mode, MX: p.MX, MaxAge: p.MaxAge, Body: body,
		ID: policyid.Of(body), Source: SourceMirror, Expires: expires, contentLength: []string{strconv.Itoa(len(body))}}
}

// failed is the placeholder for a domain with nothing valid to serve.
func failed(domain string, src Source, err string) *Policy {
	return &Policy{Domain: domain, Source: src, Err: err}
}

// Servable reports whether p can be served at now.
func (p *Policy) Servable(now time.Time) bool {
	return p != nil && p.Err == "" && (p.Expires.IsZero() || now.Before(p.Expires))
}
