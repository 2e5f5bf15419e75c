package dnsname

import (
	"strings"
	"testing"
)

// RFC 5321 §4.1.2 Domain syntax, RFC 1035 §2.3.4 lengths, RFC 3696 §2 numeric TLD.
func TestValid(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"example.com", true},
		{"MX-1.Example.COM", true},
		{"xn--bcher-kva.example", true},
		{"a", true},
		{"", false},
		{"example.com.", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a..example", false},
		{"under_score.example", false},
		{"192.0.2.1", false},
		{"host.123", false},
		{"bücher.example", false},
		{strings.Repeat("a", 63) + ".example", true},
		{strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat("a.", 126) + "a", true},
		{strings.Repeat("a.", 126) + "ab", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.name); got != tt.ok {
			t.Errorf("Valid(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}
