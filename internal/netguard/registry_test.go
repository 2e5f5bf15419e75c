package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestSpecialPurposeRegistries walks the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890 and updates, as published 2025) entry by entry, plus the reserved
// ranges of the address space registries, and checks the first and last address of each
// block is refused with the block named. The table is written from the registries, not
// from the code's table, so a block the code forgets fails here.
func TestSpecialPurposeRegistries(t *testing.T) {
	g := &Guard{}
	tests := []struct {
		block string   // as the registry writes it
		name  string   // a word the refusal must carry
		ips   []string // addresses to try; default the block's first and last, which for a
		// block holding more specific entries would land in those
	}{
		// IPv4 Special-Purpose Address Registry.
		{"0.0.0.0/8", "this network", nil},
		{"0.0.0.0/32", "this host", nil},
		{"10.0.0.0/8", "private", nil},
		{"100.64.0.0/10", "shared address space", nil},
		{"127.0.0.0/8", "loopback", nil},
		{"169.254.0.0/16", "link-local", nil},
		{"172.16.0.0/12", "private", nil},
		{"192.0.0.0/24", "IETF protocol assignments", []string{"192.0.0.11", "192.0.0.255"}},
		{"192.0.0.0/29", "service continuity", nil},
		{"192.0.0.8/32", "dummy", nil},
		{"192.0.0.9/32", "port control protocol", nil},
		{"192.0.0.10/32", "TURN", nil},
		{"192.0.0.170/32", "NAT64/DNS64 discovery", nil},
		{"192.0.0.171/32", "NAT64/DNS64 discovery", nil},
		{"192.0.2.0/24", "TEST-NET-1", nil},
		{"192.31.196.0/24", "AS112-v4", nil},
		{"192.52.193.0/24", "AMT", nil},
		{"192.88.99.0/24", "6to4 relay anycast", nil},
		{"192.88.99.2/32", "6a44", nil},
		{"192.168.0.0/16", "private", nil},
		{"192.175.48.0/24", "AS112 direct delegation", nil},
		{"198.18.0.0/15", "benchmarking", nil},
		{"198.51.100.0/24", "TEST-NET-2", nil},
		{"203.0.113.0/24", "TEST-NET-3", nil},
		{"240.0.0.0/4", "reserved", []string{"240.0.0.0", "255.255.255.254"}},
		{"255.255.255.255/32", "limited broadcast", nil},
		// IPv4 multicast (IANA IPv4 Multicast Address Space registry, RFC 5771).
		{"224.0.0.0/4", "multicast", nil},

		// IPv6 Special-Purpose Address Registry. Its entries ::ffff:0:0/96 (IPv4-mapped),
		// 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) lead to an IPv4 address and are judged
		// by it: TestEmbeddedIPv4.
		{"::1/128", "loopback", nil},
		{"::/128", "unspecified", nil},
		{"64:ff9b:1::/48", "local-use NAT64", nil},
		{"100::/64", "discard-only", nil},
		{"100:0:0:1::/64", "dummy IPv6 prefix", nil},
		{"2001::/23", "IETF protocol assignments", []string{"2001:1::4", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{"2001::/32", "Teredo", nil},
		{"2001:1::1/128", "port control protocol", nil},
		{"2001:1::2/128", "TURN", nil},
		{"2001:1::3/128", "service registration protocol", nil},
		{"2001:2::/48", "benchmarking", nil},
		{"2001:3::/32", "AMT", nil},
		{"2001:4:112::/48", "AS112-v6", nil},
		{"2001:10::/28", "ORCHID", nil},
		{"2001:20::/28", "ORCHIDv2", nil},
		{"2001:30::/28", "drone remote ID", nil},
		{"2001:db8::/32", "documentation", nil},
		{"2620:4f:8000::/48", "AS112 direct delegation", nil},
		{"3fff::/20", "documentation", nil},
		{"5f00::/16", "segment routing", nil},
		{"fc00::/7", "unique local", nil},
		{"fe80::/10", "link-local", nil},
		// IPv6 Address Space registry: reserved, deprecated and multicast space.
		{"fec0::/10", "site-local", nil},
		{"ff00::/8", "multicast", nil},
		{"::/8", "reserved by the IETF", []string{"0:1::", "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{"::/96", "reserved by the IETF", []string{"::2", "::ffff:ffff"}}, // IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
		{"::ffff:0:0:0/96", "reserved by the IETF", nil},                  // IPv4-translated (RFC 2765 §2.1)
		{"400::/6", "reserved by the IETF", nil},                          // an arbitrary reserved block
		{"e000::/4", "reserved by the IETF", nil},                         // likewise, at the top
		{"fe00::/9", "reserved by the IETF", nil},                         // between ULA and link-local
		{"4000::/3", "reserved by the IETF", nil},                         // the next /3 after global unicast
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.block)
		ips := []netip.Addr{p.Addr(), last(p)}
		if tt.ips != nil {
			ips = ips[:0]
			for _, s := range tt.ips {
				ip := netip.MustParseAddr(s)
				if !p.Contains(ip) {
					t.Fatalf("test table: %s is not in %s", ip, p)
				}
				ips = append(ips, ip)
			}
		}
		for _, ip := range ips {
			err := g.Check(ip)
			if !errors.Is(err, ErrForbidden) {
				t.Errorf("%s (%s): %s allowed, want refused", tt.block, tt.name, ip)
				continue
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("%s: %s refused as %q, want it named %q", tt.block, ip, err, tt.name)
			}
		}
	}
}

// TestEmbeddedIPv4 checks the IPv6 forms that carry an IPv4 address are judged by it:
// NAT64's well-known prefix (RFC 6052 §2.1, last 32 bits) and 6to4 (RFC 3056 §2, bits
// 16–47). A public IPv4 address behind them stays reachable (an IPv6-only host behind
// DNS64 dials 64:ff9b::/96), an internal one is refused and named.
func TestEmbeddedIPv4(t *testing.T) {
	tests := []struct {
		ip    string
		allow []string
		ok    bool
		name  string
	}{
		{"64:ff9b::808:808", nil, true, ""}, // 8.8.8.8
		{"64:ff9b::a00:1", nil, false, "10.0.0.1, which is private"},
		{"64:ff9b::7f00:1", nil, false, "127.0.0.1, which is loopback"},
		{"64:ff9b::a9fe:a9fe", nil, false, "169.254.169.254, which is link-local"},
		{"64:ff9b::", nil, false, "0.0.0.0"},
		{"64:ff9b::c000:2ff", nil, false, "TEST-NET-1"},                // 192.0.2.255
		{"64:ff9b::a00:1", []string{"10.0.0.0/8"}, true, ""},           // the IPv4 address is allowed
		{"64:ff9b::a00:1", []string{"64:ff9b::/96"}, true, ""},         // the dialed address is allowed
		{"64:ff9b:0:0:1::808:808", nil, false, "reserved by the IETF"}, // outside the /96
		{"64:ff9b:1::808:808", nil, false, "local-use NAT64"},
		{"64:ff9b:1::808:808", []string{"64:ff9b:1::/48"}, true, ""},
		{"2002:808:808::1", nil, true, ""},
		{"2002:a00:1::1", nil, false, "6to4 address (RFC 3056) embedding 10.0.0.1"},
		{"2002:c0a8:101:5::1", nil, false, "192.168.1.1, which is private"},
		{"2002:7f00:1::", nil, false, "loopback"},
		{"2002:e000:1::1", nil, false, "multicast"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", nil, false, "Teredo"}, // RFC 4380 §4 example form
		{"::ffff:10.0.0.1", nil, false, "private"},                     // IPv4-mapped: judged as IPv4
		{"::ffff:8.8.8.8", nil, true, ""},
	}
	for _, tt := range tests {
		g := &Guard{}
		for _, a := range tt.allow {
			g.Allow = append(g.Allow, netip.MustParsePrefix(a))
		}
		err := g.Check(netip.MustParseAddr(tt.ip))
		if tt.ok {
			if err != nil {
				t.Errorf("Check(%s) allow %v = %v, want allowed", tt.ip, tt.allow, err)
			}
			continue
		}
		if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("Check(%s) = %v, want refused naming %q", tt.ip, err, tt.name)
		}
	}
}

// last is the highest address of p.
func last(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range a {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				a[i] |= 0x80 >> j
			}
		}
	}
	ip, _ := netip.AddrFromSlice(a)
	return ip
}
