package policy

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/mailtls/mailtls/internal/dnsname"
)

// Reasons a key is not looked up; each leads to NOTFOUND without any network traffic
// (conformance.md §1).
var (
	ErrIPLiteral    = errors.New("IP literal next-hop: no domain policy applies")
	ErrParentProbe  = errors.New("parent-domain probe: MTA-STS must not be fetched from a parent zone (RFC 8461 §4)")
	ErrInvalidName  = errors.New("not a valid domain name")
	ErrSingleLabel  = errors.New("single-label name: no public policy can exist")
	ErrEmptyNexthop = errors.New("empty next-hop")
)

// ParseNexthop turns a Postfix next-hop key into the policy domain: lower-case A-label
// without trailing dot. It strips brackets ("[mx.example.com]") and a port
// ("example.com:25", "[mx.example.com]:587"): the remaining name is the policy domain, as
// for a smart host (RFC 8461 §4). IP literals, parent-domain probes (".example.com") and
// invalid names return an error saying why.
func ParseNexthop(key string) (string, error) {
	s := strings.TrimSpace(key)
	if s == "" {
		return "", ErrEmptyNexthop
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", ErrInvalidName
		}
		rest := s[end+1:]
		if rest != "" && !isPort(rest) {
			return "", ErrInvalidName
		}
		s = s[1:end]
		if isIPLiteral(s) {
			return "", ErrIPLiteral
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 || !isPort(s[i:]) {
			if isIPLiteral(s) {
				return "", ErrIPLiteral
			}
			return "", ErrInvalidName
		}
		s = s[:i]
	}
	if strings.HasPrefix(s, ".") {
		return "", ErrParentProbe
	}
	if isIPLiteral(s) {
		return "", ErrIPLiteral
	}
	s = strings.TrimSuffix(s, ".")
	if plainLDH(s) {
		// Already what the IDNA mapping would return: skip it (the common case, and the
		// hot path of every cached lookup).
		return finishNexthop(s)
	}
	// A name is a string of characters (RFC 5890 §2.3.2.1): bytes that are not UTF-8 are
	// not one. The IDNA mapping would turn each into U+FFFD without complaint (\xff\xfe.test
	// became xn--zn7ca.test, a name somebody could register), so refuse them first.
	if !utf8.ValidString(s) {
		return "", ErrInvalidName
	}
	// U-labels become A-labels the way a resolver would see them (UTS #46 lookup, RFC 5891).
	ascii, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", ErrInvalidName
	}
	return finishNexthop(strings.ToLower(ascii))
}

// finishNexthop checks a lower-case A-label name: a valid host name (RFC 1123 §2.1) with
// at least two labels.
func finishNexthop(ascii string) (string, error) {
	if !dnsname.Valid(ascii) {
		return "", ErrInvalidName
	}
	if !strings.Contains(ascii, ".") {
		return "", ErrSingleLabel
	}
	return ascii, nil
}

// plainLDH reports whether s consists of lower-case letters, digits, hyphens and dots only,
// with no label carrying "--" in its third and fourth places (the reserved form of
// A-labels, "xn--", RFC 5891 §4.2.3.1): names the IDNA lookup mapping returns unchanged.
// Anything else (upper case, U-labels, A-labels) takes the full mapping.
func plainLDH(s string) bool {
	label := 0 // position in the current label
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if label == 3 && s[i-1] == '-' {
				return false
			}
		default:
			return false
		}
		label++
	}
	return true
}

// isPort reports whether s is ":" followed by a decimal port number.
func isPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isIPLiteral(s string) bool {
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		return true
	}
	// Only strings made of hex digits, dots, colons and a zone can be addresses; checking
	// that first keeps domain names from paying for netip's (allocated) parse error.
	if strings.IndexFunc(s, notAddrRune) >= 0 && !strings.ContainsRune(s, '%') {
		return false
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// notAddrRune reports whether r cannot appear in an IPv4 or IPv6 address without a zone.
func notAddrRune(r rune) bool {
	switch {
	case r >= '0' && r <= '9', r >= 'a' && r <= 'f', r >= 'A' && r <= 'F', r == '.', r == ':':
		return false
	}
	return true
}
