package dane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/growstack"
)

// Defaults for the zero values of Evaluator's fields.
const (
	DefaultPort        = 25
	DefaultMaxHosts    = 10
	DefaultMaxParallel = 8
)

// ErrNoResolver is returned by Evaluate when the Evaluator has no Resolver.
var ErrNoResolver = errors.New("dane: no resolver")

// ErrBadDomain is returned by Evaluate for a name that cannot be a mail domain.
var ErrBadDomain = errors.New("dane: invalid domain name")

// Evaluator decides the DANE facts of domains. Its zero fields take the defaults above;
// it is safe for concurrent use.
type Evaluator struct {
	// Resolver must be backed by a DNSSEC-validating resolver (RFC 7672 §2.1).
	Resolver dnsclient.Resolver
	// Port is the SMTP port whose TLSA records are asked: _<Port>._tcp.<host> (RFC 7672 §2.2.3).
	Port int
	// MaxHosts bounds how many MX hosts (in preference order) are examined.
	MaxHosts int
	// MaxParallel bounds how many hosts are looked up at once.
	MaxParallel int
}

// Destination is what Postfix connects to for one next-hop (conformance.md §1).
type Destination struct {
	// Name is the next-hop domain, or for Host the server's own name.
	Name string
	// Port is the SMTP server port whose TLSA records are asked (_<Port>._tcp.<host>,
	// RFC 6698 §3); 0 takes the Evaluator's Port.
	Port int
	// Host is set for a next-hop Postfix connects to without an MX lookup ("[host]",
	// "[host]:port"): the host is the only server and its own TLSA base domain (RFC 7672
	// §2.2.2, non-MX destinations).
	Host bool
}

// Evaluate looks up the MX RRset of domain and, host by host, the addresses and TLSA
// records at the Evaluator's port, and applies conformance.md §3. DNS failures are
// outcomes, not errors: the error is only for a missing resolver, an invalid domain or a
// cancelled ctx.
func (e *Evaluator) Evaluate(ctx context.Context, domain string) (*Result, error) {
	return e.EvaluateDestination(ctx, Destination{Name: domain})
}

// EvaluateDestination is Evaluate for any destination: an MX domain on any port, or a
// host reached without an MX lookup, whose addresses and TLSA records alone decide
// (RFC 7672 §2.2.2): a host with secure addresses and a secure TLSA RRset with a usable
// record is "dane-only", one whose secure RRset has none usable "dane", one whose lookups
// failed "lookup failed", anything else no DANE.
func (e *Evaluator) EvaluateDestination(ctx context.Context, dst Destination) (*Result, error) {
	if e.Resolver == nil {
		return nil, ErrNoResolver
	}
	fqdn, err := normalize(dst.Name)
	if err != nil {
		return nil, err
	}
	port := e.port()
	if dst.Port > 0 {
		port = dst.Port
	}
	if port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrBadDomain, port)
	}
	res := &Result{Domain: strings.TrimSuffix(fqdn, "."), Port: port, NoMX: dst.Host}
	if dst.Host {
		return e.evaluateHost(ctx, res, fqdn)
	}
	mx, err := e.Resolver.Lookup(ctx, fqdn, dns.TypeMX)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// RFC 7672 §2.1.2: when the MX hosts cannot be determined the message is delayed,
		// whether the lookup failed or the answer was bogus (SERVFAIL from the validator).
		res.reason("MX %s: lookup failed: %v", fqdn, err)
		return res.finish(TempFail, "the MX hosts cannot be determined, delivery must wait (RFC 7672 §2.1.2)"), nil
	}
	res.TTL = mx.TTL
	res.MXSecure = mx.Secure
	if len(mx.CNAMEs) > 0 {
		res.reason("%s is an alias: CNAME %s (%s)", fqdn, strings.Join(mx.CNAMEs, " → "), security(mx.Secure))
	}
	if mx.Rcode == dns.RcodeNameError {
		res.reason("%s does not exist (NXDOMAIN, %s)", fqdn, security(mx.Secure))
		return res.finish(NoMail, "the domain does not exist: neither DANE nor MTA-STS applies"), nil
	}

	mxs := mxRecords(mx.Records)
	var names []string
	var prefs []uint16 // the MX preference of each of names
	switch {
	case len(mxs) == 1 && mxs[0].Mx == ".":
		// RFC 7505 §3: a single MX with an empty exchange ("MX 0 .") says the domain
		// accepts no mail.
		res.reason("MX %s: 0 . (null MX, %s)", fqdn, security(mx.Secure))
		return res.finish(NoMail, "the domain accepts no mail (RFC 7505): neither DANE nor MTA-STS applies"), nil
	case len(mxs) == 0 && !mx.Secure:
		// With no MX RRset the domain is its own implicit MX (RFC 5321 §5.1); its address
		// records are in the same insecure zone as this denial, so no TLSA lookup could
		// follow them (RFC 7672 §2.2).
		res.reason("MX %s: no MX records (insecure denial)", fqdn)
		return res.finish(NoDANE, "the implicit MX is in an unsigned zone: DANE does not apply"), nil
	case len(mxs) == 0:
		// RFC 7672 §2.2.1 with RFC 5321 §5.1: a securely denied MX RRset makes the domain
		// itself the single MX host, to be checked like any other.
		res.Implicit = true
		names = []string{fqdn}
		res.reason("MX %s: no MX records (secure NODATA): %s is its own implicit MX (RFC 5321 §5.1)", fqdn, fqdn)
	default:
		var list []string
		names, prefs, list = exchanges(mxs)
		res.reason("MX %s %s: %s", fqdn, security(mx.Secure), listed(list, maxListed))
	}

	maxHosts := cmp.Or(e.MaxHosts, DefaultMaxHosts)
	truncated := len(names) > maxHosts
	if truncated {
		res.reason("only the first %d of %d MX hosts are examined", maxHosts, len(names))
		names = names[:maxHosts]
	}

	res.Hosts = make([]Host, len(names))
	reasons := make([][]string, len(names))
	ttls := make([]uint32, len(names))
	if len(names) == 1 {
		// One host (the common case, and every implicit MX): no goroutine to hand it to.
		res.Hosts[0], reasons[0], ttls[0] = e.host(ctx, names[0], port)
	} else {
		var g errgroup.Group
		g.SetLimit(cmp.Or(e.MaxParallel, DefaultMaxParallel))
		for i, name := range names {
			g.Go(func() error {
				growstack.Grow()
				res.Hosts[i], reasons[i], ttls[i] = e.host(ctx, name, port)
				return nil
			})
		}
		_ = g.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, r := range reasons {
		res.Reasons = append(res.Reasons, r...)
		res.TTL = min(res.TTL, ttls[i])
		if prefs != nil {
			res.Hosts[i].Preference = prefs[i]
		}
	}

	if mx.Secure {
		return res.finish(decideSecure(res.Hosts, truncated)), nil
	}
	return res.finish(decideInsecure(res.Hosts)), nil
}

// evaluateHost examines a next-hop host reached without an MX lookup (RFC 7672 §2.2.2):
// no MX RRset is asked, the host's own addresses and TLSA RRset decide.
func (e *Evaluator) evaluateHost(ctx context.Context, res *Result, fqdn string) (*Result, error) {
	res.reason("%s is a host next-hop ([%s]:%d): no MX lookup, the host is the only server and its own TLSA base domain (RFC 7672 §2.2.2)",
		fqdn, res.Domain, res.Port)
	h, why, ttl := e.host(ctx, fqdn, res.Port)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl == math.MaxUint32 {
		ttl = 0 // nothing learnt
	}
	res.Hosts, res.Reasons, res.TTL = []Host{h}, append(res.Reasons, why...), ttl
	return res.finish(decideHost(h)), nil
}

func (r *Result) reason(format string, args ...any) {
	r.Reasons = append(r.Reasons, fmt.Sprintf(format, args...))
}

// finish sets the outcome and states it, with why, as the last reason.
func (r *Result) finish(o Outcome, why string) *Result {
	r.Outcome = o
	r.reason("outcome %s: %s", o, why)
	return r
}

func security(secure bool) string {
	if secure {
		return "secure"
	}
	return "insecure"
}

// normalize turns a domain into a lower-case FQDN and rejects what cannot be one.
func normalize(domain string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(domain))
	if d == "" || d == "." || strings.HasPrefix(d, ".") {
		return "", fmt.Errorf("%w: %q", ErrBadDomain, domain)
	}
	d = dns.Fqdn(d)
	if _, ok := dns.IsDomainName(d); !ok {
		return "", fmt.Errorf("%w: %q", ErrBadDomain, domain)
	}
	return d, nil
}

func mxRecords(rrs []dns.RR) []*dns.MX {
	var mxs []*dns.MX
	for _, rr := range rrs {
		if m, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, m)
		}
	}
	return mxs
}

// exchanges returns the distinct MX exchanges in preference order (RFC 5321 §5.1; equal
// preferences by name, so that results are stable) with the preference of each (the
// lowest one an exchange is listed with), and the MX set as text. An empty exchange next
// to real ones is not a valid null MX (RFC 7505 §3) and is skipped.
func exchanges(mxs []*dns.MX) (names []string, prefs []uint16, list []string) {
	sorted := slices.Clone(mxs)
	slices.SortStableFunc(sorted, func(a, b *dns.MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference),
			strings.Compare(strings.ToLower(a.Mx), strings.ToLower(b.Mx)))
	})
	seen := map[string]bool{}
	for _, m := range sorted {
		list = append(list, fmt.Sprintf("%d %s", m.Preference, m.Mx))
		name := strings.ToLower(dns.Fqdn(m.Mx))
		if name == "." || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
		prefs = append(prefs, m.Preference)
	}
	return names, prefs, list
}
