package dane

import (
	"context"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
)

// addrFamily is one address lookup of an MX host: its type, and its answer or error.
type addrFamily struct {
	typ string
	r   *dnsclient.Result
	err error
}

// addresses looks up the address records of host that the DANE decision needs: A first,
// then AAAA only when the A answer leaves the decision open. RFC 7672 §2.2 asks whether
// the host's addresses are secure, so that its TLSA RRset may be looked up:
//
//   - a secure A RRset holding addresses settles it (secure), whatever AAAA holds;
//   - an insecure A answer, positive or negative, settles it too: DNSSEC security
//     belongs to a zone, and AAAA at the same owner name (after the same CNAME chain) is
//     in the same unsigned zone, so it cannot be secure either;
//   - a secure NXDOMAIN settles it: the name has no records of any type;
//   - a secure NODATA (an IPv6-only host) or a failed A lookup does not: AAAA is asked,
//     and a secure AAAA RRset makes the host's addresses secure (conformance.md §3: a
//     failed lookup of one family does not spoil a secure other family).
//
// skipped says why AAAA was not asked ("" when it was).
func (e *Evaluator) addresses(ctx context.Context, host string) (fams []addrFamily, skipped string) {
	a, err := e.Resolver.Lookup(ctx, host, dns.TypeA)
	fams = append(make([]addrFamily, 0, 2), addrFamily{"A", a, err})
	switch {
	case err != nil:
	case !a.Secure:
		return fams, "AAAA not looked up: the A answer is insecure, and AAAA in the same zone cannot be secure"
	case a.Rcode == dns.RcodeNameError:
		return fams, "AAAA not looked up: the name does not exist (secure NXDOMAIN)"
	case len(a.Records) > 0:
		return fams, "AAAA not looked up: the secure A records make the addresses secure (RFC 7672 §2.2)"
	}
	aaaa, err := e.Resolver.Lookup(ctx, host, dns.TypeAAAA)
	return append(fams, addrFamily{"AAAA", aaaa, err}), ""
}
