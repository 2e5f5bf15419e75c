// Package netguard refuses connections to addresses a policy host on the Internet has no
// business pointing mailtls at: loopback, private, link-local, multicast, unspecified and
// every other block of the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890
// and its updates). An attacker who controls a recipient domain's DNS must not make
// mailtls probe the operator's internal network, the SSRF of RFC 8461 §10.2's policy
// fetch. The check runs at connect time on the address actually dialed, so DNS rebinding
// between lookup and connect cannot slip past it.
//
// Addresses that carry an IPv4 address inside an IPv6 one (the NAT64 well-known prefix,
// 6to4) are judged by the IPv4 address they lead to.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrForbidden is wrapped by the error for a refused address.
var ErrForbidden = errors.New("address not allowed for a policy host")

// Guard allows public unicast addresses and the prefixes the operator lists.
type Guard struct {
	Allow []netip.Prefix
}

// Check returns nil when ip may be connected to, else an error saying what range it is in.
// An address inside an operator-allowed prefix is always allowed; an address embedding an
// IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16) is allowed only when that IPv4
// address is.
func (g *Guard) Check(ip netip.Addr) error {
	// A zone (fe80::1%eth0) would make every prefix test fail: judge the address alone.
	ip = ip.Unmap().WithZone("")
	if g.allowed(ip) {
		return nil
	}
	if v4, via, ok := embeddedIPv4(ip); ok {
		if g.allowed(v4) {
			return nil
		}
		if kind := special(v4); kind != "" {
			return fmt.Errorf("%w: %s is %s embedding %s, which is %s (allow it with mta_sts.allow_addresses)", ErrForbidden, ip, via, v4, kind)
		}
		return nil
	}
	if kind := special(ip); kind != "" {
		return fmt.Errorf("%w: %s is %s (allow it with mta_sts.allow_addresses)", ErrForbidden, ip, kind)
	}
	return nil
}

func (g *Guard) allowed(ip netip.Addr) bool {
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer.Control function applying the guard to every connection.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbidden, address)
	}
	return g.Check(ap.Addr())
}
