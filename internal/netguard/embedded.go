package netguard

import "net/netip"

var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address an IPv6 address leads to when it is a translation
// or tunnel address whose IPv4 part is fixed by its prefix, and names the form:
//   - NAT64 well-known prefix 64:ff9b::/96: the last 32 bits (RFC 6052 §2.2); a DNS64
//     resolver synthesizes these from A records, so 64:ff9b::a00:1 reaches 10.0.0.1;
//   - 6to4 2002:V4ADDR::/48: bits 16 to 47 (RFC 3056 §2).
//
// The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is not read: where its IPv4 part
// sits depends on the prefix length the operator chose (RFC 6052 §2.2 allows /48 to /96),
// so it is refused whole unless listed in allow_addresses. Teredo (2001::/32, RFC 4380
// §4) is refused whole as well: its client address is a NAT's public side and its
// server part says nothing about where the packets end up.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	if !ip.Is6() {
		return netip.Addr{}, "", false
	}
	a := ip.As16()
	switch {
	case nat64WellKnown.Contains(ip):
		return netip.AddrFrom4([4]byte(a[12:16])), "a NAT64 address (RFC 6052)", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(a[2:6])), "a 6to4 address (RFC 3056)", true
	}
	return netip.Addr{}, "", false
}
