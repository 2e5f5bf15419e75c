package policy

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// conformance.md §1: keys Postfix sends and the policy domain each one yields.
func TestParseNexthop(t *testing.T) {
	tests := []struct {
		key     string
		want    string
		wantErr error
	}{
		{"example.com", "example.com", nil},
		{"Example.COM.", "example.com", nil},
		{"[mx.example.com]", "mx.example.com", nil},
		{"[mx.example.com]:587", "mx.example.com", nil},
		{"example.com:25", "example.com", nil},
		{"bücher.example", "xn--bcher-kva.example", nil},
		{"[BÜCHER.example]:25", "xn--bcher-kva.example", nil},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", nil},
		{"[192.0.2.1]", "", ErrIPLiteral},
		{"[192.0.2.1]:25", "", ErrIPLiteral},
		{"[ipv6:2001:db8::1]", "", ErrIPLiteral},
		{"[IPv6:2001:db8::1]:25", "", ErrIPLiteral},
		{"192.0.2.1", "", ErrIPLiteral},
		{"2001:db8::1", "", ErrIPLiteral},
		{".example.com", "", ErrParentProbe},
		{"", "", ErrEmptyNexthop},
		{"localhost", "", ErrSingleLabel},
		{"exa mple.com", "", ErrInvalidName},
		{"-bad.example.com", "", ErrInvalidName},
		{"a..example.com", "", ErrInvalidName},
		{"[mx.example.com", "", ErrInvalidName},
		{"[mx.example.com]x", "", ErrInvalidName},
		{"example.com:port", "", ErrInvalidName},
		{"under_score.example.com", "", ErrInvalidName},
		{"toolong.example." + longLabel(64), "", ErrInvalidName},
		// Bytes that are not UTF-8 are no name (RFC 5890 §2.3.2.1); the IDNA mapping would
		// make \xff\xfe.test the registrable xn--zn7ca.test.
		{"\xff\xfe.test", "", ErrInvalidName},
		{"b\xfccher.example", "", ErrInvalidName},    // Latin-1 ü
		{"[\xc3.example]:25", "", ErrInvalidName},    // a truncated sequence
		{"\xed\xa0\x80.example", "", ErrInvalidName}, // an encoded surrogate
		{"\x01a.example", "", ErrInvalidName},
		{"\ufffd.example", "", ErrInvalidName},
	}
	for _, tt := range tests {
		got, err := ParseNexthop(tt.key)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseNexthop(%q) = %q, %v; want %q, %v", tt.key, got, err, tt.want, tt.wantErr)
		}
	}
}

func longLabel(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

// The plain-LDH shortcut returns what the full IDNA path returns, for every input it takes.
func FuzzNexthopShortcut(f *testing.F) {
	for _, s := range []string{"example.com", "a-b.example", "xn--bcher-kva.example", "ab--cd.example",
		"a.b", "-a.example", "a-.example", "a..b", "", ".", "x", "0.0", "ab-.c", "abc--d.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainLDH(s) {
			return
		}
		fast, ferr := finishNexthop(s)
		slow, serr := slowNexthop(s)
		if fast != slow || ferr != serr {
			t.Errorf("%q: shortcut %q, %v; IDNA path %q, %v", s, fast, ferr, slow, serr)
		}
	})
}

// FuzzNexthopCanonical checks the one-pass shortcut of parseNexthopInto against the full
// parse: a key the shortcut takes must parse to itself there, as an MX destination on
// port 25 whose DANE key is the key.
func FuzzNexthopCanonical(f *testing.F) {
	for _, s := range []string{"example.com", "a-b.example", "xn--bcher-kva.example", "ab--cd.example",
		"a.b", "-a.example", "a-.example", "a..b", "", ".", "x", "0.0", "1.2.3.4", "a.1", "1.a", "a.b.",
		"Example.com", "[a.example]", "a.example:25", " a.example", "a.b-", strings.Repeat("a", 64) + ".b",
		strings.Repeat("a.", 126) + "bc", strings.Repeat("a.", 126) + "b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var full Nexthop
		err := parseNexthopFull(s, &full)
		want := err == nil && full == Nexthop{Domain: s, Port: DefaultPort, DANEKey: s}
		if got := canonicalDomain(s); got && !want {
			t.Errorf("%q: shortcut taken; the full parse gives %+v, %v", s, full, err)
		}
	})
}

// TestNexthopCanonicalTaken: the shortcut is taken for the keys it exists for (a key it
// refused would still parse right, through the full path, so this is what shows it works).
func TestNexthopCanonicalTaken(t *testing.T) {
	for _, s := range []string{"example.com", "mx-1.mail.example.co.uk", "a.b", "0a.example", "a.b0", "ab-cd--e.example"} {
		if !canonicalDomain(s) {
			t.Errorf("%q: shortcut not taken", s)
		}
	}
	for _, s := range []string{"example.com.", "Example.com", "xn--bcher-kva.example", "a.1", "1.2.3.4", "-a.example", "a-.example", "a..b", "xn--.example", "x", ".a.b", "a.example:25"} {
		if canonicalDomain(s) {
			t.Errorf("%q: shortcut taken", s)
		}
	}
}

// slowNexthop is the IDNA path of ParseNexthop alone.
func slowNexthop(s string) (string, error) {
	ascii, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", ErrInvalidName
	}
	return finishNexthop(strings.ToLower(ascii))
}

// The next-hop parse is on every lookup's path, the cached ones included.
func BenchmarkParseNexthop(b *testing.B) {
	for _, key := range []string{"example.com", "[relay.example.com]:587"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseNexthop(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
