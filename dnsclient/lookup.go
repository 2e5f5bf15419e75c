package dnsclient

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/miekg/dns"
)

// Lookup asks the configured resolvers for qtype at name and follows CNAMEs (RFC 1034
// §3.6.2, §4.3.2). It implements Resolver.
//
// The CNAME chain in the answer section is used as far as it goes; when it ends at a
// name that has neither records of the asked type nor a negative answer in the same
// response, that name is asked again. At most 8 CNAMEs are followed, and a name seen
// twice is a loop; both are ErrCNAMELoop. Result.Secure is true only when every response
// used carried AD=1. Result.TTL is the smallest TTL of the records and CNAMEs used, or
// for a negative answer min(SOA TTL, SOA MINIMUM) (RFC 2308 §5), or 60 s when a negative
// answer carries no SOA.
func (c *Client) Lookup(ctx context.Context, name string, qtype uint16) (*Result, error) {
	qname := strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(qname); !ok || name == "" {
		return nil, &LookupError{Name: qname, Type: qtype, Err: ErrBadName}
	}
	res := &Result{Question: qname, Name: qname, Secure: true, TTL: math.MaxUint32}
	seen := map[string]bool{qname: true}
	current := qname
	for {
		resp, server, err := c.query(ctx, current, qtype)
		if err != nil {
			if current != qname {
				err = fmt.Errorf("%w (asking CNAME target %s)", err, current)
			}
			return nil, &LookupError{Name: qname, Type: qtype, Err: err}
		}
		res.Server = server
		res.Secure = res.Secure && resp.AuthenticatedData
		followed := false
		// Walk the chain inside this response.
		for {
			if rrs := rrsAt(resp.Answer, current, qtype); len(rrs) > 0 {
				res.Name, res.Records, res.Rcode = current, rrs, dns.RcodeSuccess
				for _, rr := range rrs {
					res.TTL = min(res.TTL, rr.Header().Ttl)
				}
				return res, nil
			}
			if qtype == dns.TypeCNAME {
				break
			}
			cn := rrsAt(resp.Answer, current, dns.TypeCNAME)
			if len(cn) == 0 {
				break
			}
			target := strings.ToLower(dns.Fqdn(cn[0].(*dns.CNAME).Target))
			if seen[target] || len(res.CNAMEs) >= maxCNAMEs {
				return nil, &LookupError{Name: qname, Type: qtype,
					Err: fmt.Errorf("%w: at %s after %d steps", ErrCNAMELoop, current, len(res.CNAMEs))}
			}
			seen[target] = true
			res.CNAMEs = append(res.CNAMEs, target)
			res.TTL = min(res.TTL, cn[0].Header().Ttl)
			current, res.Name = target, target
			followed = true
		}
		soa := soaIn(resp.Ns)
		// NXDOMAIN applies to the last name of the chain (RFC 6604 §2), so does a NODATA
		// proof (an SOA in the authority section, RFC 2308 §2.2). A chain that simply
		// stops, with neither, is asked again from its end.
		if resp.Rcode == dns.RcodeSuccess && soa == nil && followed {
			continue
		}
		res.Name, res.Rcode, res.Records = current, resp.Rcode, nil
		res.TTL = min(res.TTL, negativeTTL(soa))
		return res, nil
	}
}

// rrsAt returns the records of type t owned by name (compared case-insensitively,
// RFC 4343) in class IN.
func rrsAt(section []dns.RR, name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range section {
		h := rr.Header()
		if h.Rrtype == t && h.Class == dns.ClassINET && strings.EqualFold(h.Name, name) {
			out = append(out, rr)
		}
	}
	return out
}

func soaIn(section []dns.RR) *dns.SOA {
	for _, rr := range section {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// negativeTTL is how long a negative answer may be cached: the smaller of the SOA's own
// TTL and its MINIMUM field (RFC 2308 §5), or a short default without an SOA.
func negativeTTL(soa *dns.SOA) uint32 {
	if soa == nil {
		return defaultNegativeTTL
	}
	return min(soa.Hdr.Ttl, soa.Minttl)
}
