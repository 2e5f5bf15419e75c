package hosting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/hosting/mirror"
	"github.com/mailtls/mailtls/mtasts"
)

// MX re-read bounds: the TTL of the MX RRset decides, within these limits.
const (
	minMXRefresh = 30 * time.Second
	maxMXRefresh = 6 * time.Hour
	// failRetry is how soon a failed MX lookup or upstream fetch is tried again.
	failRetry = time.Minute
)

// ErrNoMX is returned by CurrentMX for a domain without usable MX host names (none, a
// null MX of RFC 7505, or a name that does not exist): "mx: auto" has nothing to list.
var ErrNoMX = errors.New("no MX host names to list")

// CurrentMX returns the domain's MX host names as policy patterns (lower-case, without
// trailing dot, sorted so that a reordered RRset keeps the policy id) and the TTL they
// may be kept for.
func CurrentMX(ctx context.Context, r dnsclient.Resolver, domain string) ([]string, uint32, error) {
	res, err := r.Lookup(ctx, domain+".", dns.TypeMX)
	if err != nil {
		return nil, 0, fmt.Errorf("MX lookup for %s: %w", domain, err)
	}
	var out []string
	for _, rr := range res.Records {
		mx, ok := rr.(*dns.MX)
		if !ok || mx.Mx == "." {
			continue
		}
		out = append(out, strings.ToLower(strings.TrimSuffix(mx.Mx, ".")))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, res.TTL, fmt.Errorf("%s: %w", domain, ErrNoMX)
	}
	return out, res.TTL, nil
}

// Builder computes the policy a spec stands for right now: rendered from the
// configuration, from the current MX records, or mirrored from upstream.
type Builder struct {
	Resolver dnsclient.Resolver
	Mirror   *mirror.Fetcher
}

// Build returns spec's policy and when to compute it again (0: never, it is static).
// prev is the policy served so far (nil at first): a mirror keeps serving its last good
// copy until that copy's max_age when the upstream fails, and an MX lookup failure keeps
// the previous patterns.
func (b *Builder) Build(ctx context.Context, s Spec, prev *Policy, now time.Time) (*Policy, time.Duration) {
	switch {
	case s.Upstream != "":
		return b.buildMirror(ctx, s, prev, now)
	case s.MXAuto && s.Mode != mtasts.ModeNone:
		mx, ttl, err := CurrentMX(ctx, b.Resolver, s.Domain)
		if err != nil {
			if prev != nil && prev.Err == "" && prev.Source == SourceMXAuto {
				return prev, failRetry // keep the patterns last seen
			}
			return failed(s.Domain, SourceMXAuto, err.Error()), failRetry
		}
		refresh := min(max(time.Duration(ttl)*time.Second, minMXRefresh), maxMXRefresh)
		return Render(s.Domain, s.Mode, mx, s.MaxAge, SourceMXAuto), refresh
	}
	src := SourceConfig
	if s.Retiring {
		src = SourceRetiring
	}
	var mx []string
	if s.Mode != mtasts.ModeNone {
		mx = s.MX
	}
	return Render(s.Domain, s.Mode, mx, s.MaxAge, src), 0
}

func (b *Builder) buildMirror(ctx context.Context, s Spec, prev *Policy, now time.Time) (*Policy, time.Duration) {
	if b.Mirror == nil {
		return failed(s.Domain, SourceMirror, "mirroring is not available"), 0
	}
	c, err := b.Mirror.Fetch(ctx, s.Upstream, now)
	if err != nil {
		if prev.Servable(now) && prev.Source == SourceMirror {
			// RFC 8461 §3.3 as a sender would apply it: the last valid copy stays good until
			// its max_age, never beyond.
			return prev, min(failRetry, prev.Expires.Sub(now))
		}
		return failed(s.Domain, SourceMirror, err.Error()), failRetry
	}
	p := fromBody(s.Domain, c.Body, c.Policy, c.Expires)
	return p, mirror.RefreshAfter(c.Policy.MaxAge)
}
