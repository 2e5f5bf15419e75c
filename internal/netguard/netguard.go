// Package netguard refuses connections to addresses a policy host on the Internet has no
// business pointing mailtls at: loopback, private, link-local, multicast, unspecified and
// other special-purpose ranges (an attacker who controls a recipient domain's DNS must not
// make mailtls probe the operator's internal network, the SSRF of RFC 8461 §10.2's
// policy fetch). The check runs at connect time on the address actually dialed, so DNS
// rebinding between lookup and connect cannot slip past it.
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
func (g *Guard) Check(ip netip.Addr) error {
	ip = ip.Unmap()
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return nil
		}
	}
	if kind := special(ip); kind != "" {
		return fmt.Errorf("%w: %s is %s (allow it with mta_sts.allow_addresses)", ErrForbidden, ip, kind)
	}
	return nil
}

// Control is a net.Dialer.Control function applying the guard to every connection.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbidden, address)
	}
	return g.Check(ap.Addr())
}

// special names the special-purpose range ip is in (RFC 6890), or "" for a public address.
func special(ip netip.Addr) string {
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, r := range []struct {
		p    string
		kind string
	}{
		{"0.0.0.0/8", "\"this network\""},
		{"100.64.0.0/10", "shared address space (CGN)"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"198.18.0.0/15", "benchmarking"},
		{"240.0.0.0/4", "reserved"},
		{"255.255.255.255/32", "broadcast"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"2001::/23", "IETF protocol assignments"},
	} {
		if netip.MustParsePrefix(r.p).Contains(ip) {
			return r.kind
		}
	}
	return ""
}
