package dane

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// host examines one MX host (or a host next-hop) on port: its addresses (as many as the
// decision needs, see addresses), then, behind secure addresses, its TLSA RRset.
// It returns the host, the reasons (each prefixed with the host name) and the smallest
// TTL of the RRsets it learnt (math.MaxUint32 when it learnt none).
func (e *Evaluator) host(ctx context.Context, name string, port int) (Host, []string, uint32) {
	h := Host{Name: name, Target: name}
	var why []string
	say := func(format string, args ...any) {
		why = append(why, name+": "+fmt.Sprintf(format, args...))
	}
	ttl := uint32(math.MaxUint32)

	// RFC 7672 §2.2: the TLSA RRset is only looked up, and only trusted, when the
	// address records of the host are secure. A and AAAA are judged separately: one
	// family that failed or is empty does not spoil a secure other family
	// (conformance.md §3); AAAA is not asked when A alone settles it.
	fams, skipped := e.addresses(ctx, name)
	var insecure bool
	var errs []error
	for _, fam := range fams {
		if fam.err != nil {
			errs = append(errs, fam.err)
			say("%s lookup failed: %v", fam.typ, fam.err)
			continue
		}
		r := fam.r
		ttl = min(ttl, r.TTL)
		ips := ipsOf(r.Records)
		via := ""
		if len(r.CNAMEs) > 0 {
			via = fmt.Sprintf(" via CNAME %s", strings.Join(r.CNAMEs, " → "))
		}
		if len(ips) == 0 {
			say("no %s records%s (%s)", fam.typ, via, security(r.Secure))
			continue
		}
		text := make([]string, len(ips))
		for i, ip := range ips {
			h.Addrs = append(h.Addrs, Addr{IP: ip, Secure: r.Secure})
			text[i] = ip.String()
		}
		say("%s %s%s: %s", fam.typ, security(r.Secure), via, listed(text, maxListed))
		if !r.Secure {
			insecure = true
			continue
		}
		h.AddrSecure = true
		// RFC 7672 §2.2.2, RFC 7671 §7: with a secure CNAME chain the TLSA base domain is
		// the fully expanded name. Result.Secure covers every step of the chain.
		if r.Name != "" && r.Name != name {
			h.Target = r.Name
		}
	}
	if skipped != "" {
		say("%s", skipped)
	}
	switch {
	case h.AddrSecure:
	case insecure:
		h.State = HostNoTLSA
		say("addresses insecure: TLSA not looked up (RFC 7672 §2.2)")
		return h, why, ttl
	case len(errs) > 0:
		h.State = HostFailed
		h.AddrErr = errors.Join(errs...)
		say("address lookup failed: the host cannot be used now (RFC 7672 §2.1.2)")
		return h, why, ttl
	default:
		h.State = HostNoTLSA
		say("no address records: not a usable MX host")
		return h, why, ttl
	}

	// RFC 7672 §2.2.2: try the expanded name first, then the name as published.
	bases := []string{h.Target}
	if h.Target != name {
		bases = append(bases, name)
	}
	for i, base := range bases {
		if i > 0 {
			say("no secure TLSA at the CNAME target %s, trying the MX name (RFC 7672 §2.2.2)", h.Target)
		}
		qname := fmt.Sprintf("_%d._tcp.%s", port, base)
		r, err := e.Resolver.Lookup(ctx, qname, dns.TypeTLSA)
		h.TLSABase = base
		if err != nil {
			// RFC 7672 §2.2: a failed TLSA lookup leaves it unknown whether the host
			// requires authentication; the host must not be used without it.
			h.State = HostFailed
			h.TLSAErr = err
			h.TLSA = nil
			say("TLSA %s lookup failed: %v", qname, err)
			return h, why, ttl
		}
		ttl = min(ttl, r.TTL)
		h.TLSA = tlsaOf(r.Records)
		h.TLSASecure = r.Secure && len(h.TLSA) > 0
		switch {
		case len(h.TLSA) == 0:
			h.State = HostNoTLSA
			what := "no TLSA records"
			if r.Rcode == dns.RcodeNameError {
				what = "does not exist"
			}
			say("TLSA %s %s (%s denial)", qname, what, security(r.Secure))
		case !r.Secure:
			// RFC 7672 §2.2: an insecure TLSA RRset is treated as absent.
			h.State = HostNoTLSA
			say("TLSA %s insecure, %d records ignored (RFC 7672 §2.2)", qname, len(h.TLSA))
		default:
			n := h.Usable()
			say("TLSA %s secure, %d usable of %d", qname, n, len(h.TLSA))
			for i, t := range h.TLSA {
				if i == maxListed {
					say("  … %d more TLSA records not listed", len(h.TLSA)-maxListed)
					break
				}
				say("  %d %d %d %s: %s", t.Usage, t.Selector, t.MatchingType, abbrev(t.Data), t.Why)
			}
			if n > 0 {
				h.State = HostDANE
			} else {
				h.State = HostDANEUnusable
				say("no usable TLSA record: TLS is mandatory but cannot be authenticated (RFC 7672 §2.2, §3.1.3)")
			}
			return h, why, ttl
		}
	}
	return h, why, ttl
}

func (e *Evaluator) port() int {
	if e.Port > 0 {
		return e.Port
	}
	return DefaultPort
}

func ipsOf(rrs []dns.RR) []netip.Addr {
	var ips []netip.Addr
	for _, rr := range rrs {
		var ip netip.Addr
		var ok bool
		switch a := rr.(type) {
		case *dns.A:
			ip, ok = netip.AddrFromSlice(a.A.To4())
		case *dns.AAAA:
			ip, ok = netip.AddrFromSlice(a.AAAA.To16())
		}
		if ok {
			ips = append(ips, ip)
		}
	}
	return ips
}

func tlsaOf(rrs []dns.RR) []TLSA {
	var out []TLSA
	for _, rr := range rrs {
		r, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		t := TLSA{Usage: r.Usage, Selector: r.Selector, MatchingType: r.MatchingType, Data: strings.ToLower(r.Certificate)}
		t.Usable, t.Why = Usable(t.Usage, t.Selector, t.MatchingType, t.Data)
		out = append(out, t)
	}
	return out
}

// maxListed bounds how many MX exchanges, addresses of one family or TLSA records one
// reason lists: hostile zones publish thousands, and the explanation of a domain is kept
// with its outcome. The outcome itself is decided on every record.
const maxListed = 8

// listed joins items for a reason, the first max of them and how many more there are.
func listed(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" … and %d more", len(items)-max)
}

// abbrev shortens association data for reasons.
func abbrev(hex string) string {
	if len(hex) <= 16 {
		return hex
	}
	return hex[:16] + "…"
}
