package netguard

import "net/netip"

// block is one entry of the special-purpose address registries, or of the address space
// registries where those reserve a range the special-purpose ones do not list.
type block struct {
	prefix netip.Prefix
	kind   string
}

func b(prefix, kind string) block { return block{netip.MustParsePrefix(prefix), kind} }

// specialIPv4 is the IANA IPv4 Special-Purpose Address Registry (RFC 6890 §2.2.2 and the
// RFCs that added entries since), plus multicast (RFC 5771). More specific entries come
// first so the error names the most precise block. Every entry is refused, also those the
// registry marks globally reachable: they are anycast service addresses (PCP, TURN, AS112,
// AMT relays) answered by the nearest, often local, server, never a domain's policy host.
var specialIPv4 = []block{
	b("0.0.0.0/32", "\"this host on this network\" (RFC 1122 §3.2.1.3)"),
	b("0.0.0.0/8", "\"this network\" (RFC 791 §3.2)"),
	b("10.0.0.0/8", "private (RFC 1918)"),
	b("100.64.0.0/10", "shared address space, CGN (RFC 6598)"),
	b("127.0.0.0/8", "loopback (RFC 1122 §3.2.1.3)"),
	b("169.254.0.0/16", "link-local (RFC 3927)"),
	b("172.16.0.0/12", "private (RFC 1918)"),
	b("192.0.0.0/29", "IPv4 service continuity, DS-Lite (RFC 7335)"),
	b("192.0.0.8/32", "the IPv4 dummy address (RFC 7600)"),
	b("192.0.0.9/32", "port control protocol anycast (RFC 7723)"),
	b("192.0.0.10/32", "TURN anycast (RFC 8155)"),
	b("192.0.0.170/31", "NAT64/DNS64 discovery (RFC 8880, RFC 7050 §2.2)"),
	b("192.0.0.0/24", "IETF protocol assignments (RFC 6890 §2.1)"),
	b("192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
	b("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
	b("192.52.193.0/24", "AMT relay anycast (RFC 7450)"),
	b("192.88.99.2/32", "6a44 relay anycast (RFC 6751)"),
	b("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
	b("192.168.0.0/16", "private (RFC 1918)"),
	b("192.175.48.0/24", "AS112 direct delegation (RFC 7534)"),
	b("198.18.0.0/15", "benchmarking (RFC 2544)"),
	b("198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
	b("203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
	b("224.0.0.0/4", "multicast (RFC 5771)"),
	b("255.255.255.255/32", "limited broadcast (RFC 919 §7)"),
	b("240.0.0.0/4", "reserved (RFC 1112 §4)"),
}

// specialIPv6 is the IANA IPv6 Special-Purpose Address Registry (RFC 6890 §2.2.3 and
// updates) plus the ranges the IPv6 Address Space registry reserves: site-local
// fec0::/10 (deprecated by RFC 3879), multicast ff00::/8, and everything outside global
// unicast 2000::/3 that no entry names (RFC 4291 §2.4: reserved by the IETF, so an
// IPv4-compatible ::a.b.c.d or IPv4-translated ::ffff:0:a.b.c.d address is refused too).
// 64:ff9b::/96 and 2002::/16 are judged by their embedded IPv4 address (embeddedIPv4)
// before this table is consulted; their entries remain for the address without one.
var specialIPv6 = []block{
	b("::/128", "unspecified (RFC 4291 §2.5.2)"),
	b("::1/128", "loopback (RFC 4291 §2.5.3)"),
	b("::ffff:0:0/96", "IPv4-mapped (RFC 4291 §2.5.5.2)"),
	b("64:ff9b::/96", "NAT64 well-known prefix (RFC 6052 §2.1)"),
	b("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
	b("100::/64", "discard-only (RFC 6666)"),
	b("100:0:0:1::/64", "the dummy IPv6 prefix (RFC 9780)"),
	b("2001::/32", "Teredo (RFC 4380)"),
	b("2001:1::1/128", "port control protocol anycast (RFC 7723)"),
	b("2001:1::2/128", "TURN anycast (RFC 8155)"),
	b("2001:1::3/128", "DNS-SD service registration protocol anycast (RFC 9665)"),
	b("2001:2::/48", "benchmarking (RFC 5180)"),
	b("2001:3::/32", "AMT (RFC 7450)"),
	b("2001:4:112::/48", "AS112-v6 (RFC 7535)"),
	b("2001:10::/28", "deprecated ORCHID (RFC 4843)"),
	b("2001:20::/28", "ORCHIDv2 (RFC 7343)"),
	b("2001:30::/28", "drone remote ID entity tags (RFC 9374)"),
	b("2001::/23", "IETF protocol assignments (RFC 2928)"),
	b("2001:db8::/32", "documentation (RFC 3849)"),
	b("2002::/16", "6to4 (RFC 3056)"),
	b("2620:4f:8000::/48", "AS112 direct delegation (RFC 7534)"),
	b("3fff::/20", "documentation (RFC 9637)"),
	b("5f00::/16", "segment routing SIDs (RFC 9602)"),
	b("fc00::/7", "unique local (RFC 4193)"),
	b("fe80::/10", "link-local (RFC 4291 §2.5.6)"),
	b("fec0::/10", "deprecated site-local (RFC 3879)"),
	b("ff00::/8", "multicast (RFC 4291 §2.7)"),
}

// globalUnicast is where IANA allocates IPv6 unicast space (RFC 4291 §2.4, IANA IPv6
// Address Space registry); the rest is reserved.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// special names the special-purpose range ip is in, or "" for a public address.
func special(ip netip.Addr) string {
	table := specialIPv6
	if ip.Is4() {
		table = specialIPv4
	}
	for _, e := range table {
		if e.prefix.Contains(ip) {
			return e.kind
		}
	}
	if ip.Is6() && !globalUnicast.Contains(ip) {
		return "reserved by the IETF, outside global unicast 2000::/3 (RFC 4291 §2.4)"
	}
	return ""
}
