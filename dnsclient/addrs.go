package dnsclient

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/growstack"
)

// Addrs holds the A and AAAA lookups of one host. A lookup that failed has a nil Result
// and its error set; a lookup that succeeded may still hold no address (NXDOMAIN, NODATA).
type Addrs struct {
	A, AAAA       *Result
	AErr, AAAAErr error
}

// LookupAddrs asks r for the A and AAAA records of host in parallel.
func LookupAddrs(ctx context.Context, r Resolver, host string) *Addrs {
	a := &Addrs{}
	var wg sync.WaitGroup
	wg.Go(func() {
		growstack.Grow()
		a.A, a.AErr = r.Lookup(ctx, host, dns.TypeA)
	})
	wg.Go(func() {
		growstack.Grow()
		a.AAAA, a.AAAAErr = r.Lookup(ctx, host, dns.TypeAAAA)
	})
	wg.Wait()
	return a
}

// IPs returns the addresses found, IPv6 first then IPv4 (the default preference of
// RFC 6724 §2.1), each in the order received, without duplicates.
func (a *Addrs) IPs() []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(ip netip.Addr, ok bool) {
		ip = ip.Unmap()
		if ok && ip.IsValid() && !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	if a.AAAA != nil {
		for _, rr := range a.AAAA.Records {
			if r, ok := rr.(*dns.AAAA); ok {
				add(netip.AddrFromSlice(r.AAAA.To16()))
			}
		}
	}
	if a.A != nil {
		for _, rr := range a.A.Records {
			if r, ok := rr.(*dns.A); ok {
				add(netip.AddrFromSlice(r.A.To4()))
			}
		}
	}
	return out
}

// Err returns the lookup failures joined (errors.Is matches either), or nil when both
// lookups were answered, positively or negatively.
func (a *Addrs) Err() error { return errors.Join(a.AErr, a.AAAAErr) }

// Secure reports whether both lookups were answered and both answers were DNSSEC-secure
// (AD=1 on every response), which DANE needs for the host's addresses (RFC 7672 §2.2.2).
func (a *Addrs) Secure() bool {
	return a.AErr == nil && a.AAAAErr == nil && a.A != nil && a.AAAA != nil &&
		a.A.Secure && a.AAAA.Secure
}

// NotFound reports whether both lookups were answered and neither holds an address.
func (a *Addrs) NotFound() bool {
	return a.Err() == nil && len(a.IPs()) == 0
}
