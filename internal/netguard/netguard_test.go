package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheck(t *testing.T) {
	g := &Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.9.0.0/16")}}
	tests := []struct {
		ip string
		ok bool
	}{
		{"192.0.2.1", false}, // documentation: no policy host lives there (RFC 5737)
		{"8.8.8.8", true},
		{"2001:db8::1", false}, // documentation (RFC 3849)
		{"2a00:1450:4001:80b::200e", true},
		{"fe80::1%eth0", false}, // a zone does not hide link-local
		{"127.0.0.1", true},     // allowed explicitly
		{"::ffff:127.0.0.1", true},
		{"10.9.1.1", true},
		{"10.1.1.1", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"0.0.0.0", false},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"100.64.0.1", false},
		{"255.255.255.255", false},
	}
	for _, tt := range tests {
		err := g.Check(netip.MustParseAddr(tt.ip))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("Check(%s) = %v, want allowed=%v", tt.ip, err, tt.ok)
		}
	}
	if err := g.Control("tcp", "[::1]:443", nil); err == nil {
		t.Error("Control allowed ::1")
	}
	if err := g.Control("tcp", "127.0.0.5:443", nil); err != nil {
		t.Errorf("Control refused an allowed address: %v", err)
	}
}
