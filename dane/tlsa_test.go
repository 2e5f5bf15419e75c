package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testDER returns a self-signed certificate and its SubjectPublicKeyInfo, DER-encoded.
func testDER(t testing.TB) (cert, spki []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.example"},
		DNSNames:     []string{"mx.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err = x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return cert, spki
}

// TestUsableAllParameters walks every usage, selector and matching type that is defined
// plus unknown values around them, with well-formed data for the matching type: only
// usage 2/3 × selector 0/1 × matching 0/1/2 is usable (RFC 7672 §3.1.3, RFC 7671 §4.1,
// RFC 6698 §2.1).
func TestUsableAllParameters(t *testing.T) {
	cert, spki := testDER(t)
	goodData := func(selector, matching uint8) string {
		switch matching {
		case MatchingSHA2256:
			return strings.Repeat("0f", 32)
		case MatchingSHA2512:
			return strings.Repeat("0f", 64)
		}
		if selector == SelectorSPKI {
			return hex.EncodeToString(spki)
		}
		return hex.EncodeToString(cert)
	}
	for _, usage := range []uint8{0, 1, 2, 3, 4, 255} {
		for _, selector := range []uint8{0, 1, 2, 255} {
			for _, matching := range []uint8{0, 1, 2, 3, 255} {
				want := (usage == 2 || usage == 3) && selector <= 1 && matching <= 2
				got, why := Usable(usage, selector, matching, goodData(selector, matching))
				if got != want || why == "" {
					t.Errorf("Usable(%d, %d, %d) = %v %q, want %v", usage, selector, matching, got, why, want)
				}
			}
		}
	}
}

// TestUsable checks the data rules and the explanations, one RFC rule per case.
func TestUsable(t *testing.T) {
	cert, spki := testDER(t)
	certHex, spkiHex := hex.EncodeToString(cert), hex.EncodeToString(spki)
	tests := []struct {
		rule                      string
		usage, selector, matching uint8
		data                      string
		usable                    bool
		why                       string
	}{
		{"RFC 7672 §3.1.3 PKIX-TA unusable for SMTP", 0, 0, 1, strings.Repeat("ab", 32), false, "usage 0 (PKIX-TA) unusable for SMTP, RFC 7672 §3.1.3"},
		{"RFC 7672 §3.1.3 PKIX-EE unusable for SMTP", 1, 1, 1, strings.Repeat("ab", 32), false, "usage 1 (PKIX-EE) unusable for SMTP, RFC 7672 §3.1.3"},
		{"RFC 7671 §4.1 unknown usage unusable", 4, 1, 1, strings.Repeat("ab", 32), false, "usage 4 unknown"},
		{"RFC 6698 §2.1.2 unknown selector unusable", 3, 2, 1, strings.Repeat("ab", 32), false, "selector 2 unknown"},
		{"RFC 6698 §2.1.3 unknown matching type unusable", 3, 1, 3, strings.Repeat("ab", 32), false, "matching type 3 unknown"},
		{"DANE-EE SPKI SHA2-256", 3, 1, 1, strings.Repeat("ab", 32), true, "usage 3 (DANE-EE), selector 1 (SPKI), matching type 1 (SHA2-256): usable"},
		{"DANE-TA Cert SHA2-512", 2, 0, 2, strings.Repeat("AB", 64), true, "usage 2 (DANE-TA)"},
		{"SHA2-256 upper-case hex is fine", 3, 1, 1, strings.Repeat("AB", 32), true, "usable"},
		{"SHA2-256 with 31 octets", 3, 1, 1, strings.Repeat("ab", 31), false, "needs 32 octets of data, has 31"},
		{"SHA2-256 with 33 octets", 3, 1, 1, strings.Repeat("ab", 33), false, "needs 32 octets of data, has 33"},
		{"SHA2-256 with 64 octets (a SHA2-512 digest)", 3, 1, 1, strings.Repeat("ab", 64), false, "has 64"},
		{"SHA2-512 with 63 octets", 3, 1, 2, strings.Repeat("ab", 63), false, "needs 64 octets of data, has 63"},
		{"SHA2-512 with 65 octets", 3, 1, 2, strings.Repeat("ab", 65), false, "has 65"},
		{"SHA2-512 with 32 octets (a SHA2-256 digest)", 3, 1, 2, strings.Repeat("ab", 32), false, "has 32"},
		{"odd number of hex digits", 3, 1, 1, strings.Repeat("ab", 32) + "a", false, "not valid hex"},
		{"non-hex characters", 3, 1, 1, strings.Repeat("zz", 32), false, "not valid hex"},
		{"empty data, SHA2-256", 3, 1, 1, "", false, "has 0"},
		{"empty data, Full", 3, 1, 0, "", false, "empty data"},
		{"Full certificate", 3, 0, 0, certHex, true, "usable"},
		{"Full SPKI", 2, 1, 0, spkiHex, true, "usable"},
		{"Full: truncated certificate", 3, 0, 0, certHex[:len(certHex)-2], false, "not one DER-encoded certificate"},
		{"Full: trailing bytes after the SPKI", 3, 1, 0, spkiHex + "00", false, "not one DER-encoded SubjectPublicKeyInfo"},
		{"Full: a DER INTEGER is not a SEQUENCE", 3, 1, 0, "020101", false, "not one DER-encoded"},
		{"Full: a digest is not DER", 3, 1, 0, strings.Repeat("ab", 32), false, "not one DER-encoded"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			got, why := Usable(tc.usage, tc.selector, tc.matching, tc.data)
			if got != tc.usable || !strings.Contains(why, tc.why) {
				t.Errorf("Usable(%d, %d, %d, %.20q…) = %v %q, want %v containing %q",
					tc.usage, tc.selector, tc.matching, tc.data, got, why, tc.usable, tc.why)
			}
		})
	}
}

// FuzzUsable checks that Usable never panics, always explains itself, and never calls a
// record usable outside the parameters RFC 7672 §3.1.3 and RFC 6698 §2.1 allow.
func FuzzUsable(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint8(1), strings.Repeat("ab", 32))
	f.Add(uint8(2), uint8(0), uint8(0), "3003020101")
	f.Add(uint8(1), uint8(1), uint8(2), strings.Repeat("ab", 64))
	f.Add(uint8(3), uint8(1), uint8(0), "30")
	f.Fuzz(func(t *testing.T, usage, selector, matching uint8, data string) {
		ok, why := Usable(usage, selector, matching, data)
		if why == "" {
			t.Fatal("no explanation")
		}
		if !ok {
			return
		}
		raw, err := hex.DecodeString(data)
		switch {
		case usage != 2 && usage != 3, selector > 1, matching > 2, err != nil:
			t.Fatalf("usable: %d %d %d %q", usage, selector, matching, data)
		case matching == 1 && len(raw) != 32, matching == 2 && len(raw) != 64, len(raw) == 0:
			t.Fatalf("usable with %d octets for matching %d", len(raw), matching)
		}
	})
}
