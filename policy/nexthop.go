package policy

import (
	"errors"
	"net/netip"
	"strconv"
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

// Nexthop is a Postfix next-hop key taken apart (conformance.md §1).
type Nexthop struct {
	// Domain is the policy domain: the name with brackets and port stripped, a lower-case
	// A-label without trailing dot. MTA-STS is looked up for it (RFC 8461 §4: for a smart
	// host, the host's own name).
	Domain string
	// Host is set for "[host]" and "[host]:port": Postfix connects to the host itself with
	// no MX lookup, so DANE examines that host alone (RFC 7672 §2.2.2, non-MX destination).
	Host bool
	// Port is the SMTP server port, 25 unless the key names another; DANE's TLSA records
	// are at _<Port>._tcp.<server> (RFC 6698 §3).
	Port uint16
	// DANEKey names the DANE facts of this next-hop in the caches: Domain for an MX
	// destination on port 25, else the canonical key ("[host]", "[host]:587",
	// "domain:587"), so that the destinations that can differ are kept apart.
	DANEKey string
}

// DefaultPort is the SMTP port of a key that names none (RFC 5321 §4.5.4.2, RFC 7672 §2.2.1).
const DefaultPort = 25

// ParseNexthop turns a Postfix next-hop key into the policy domain: lower-case A-label
// without trailing dot. It strips brackets ("[mx.example.com]") and a port
// ("example.com:25", "[mx.example.com]:587"): the remaining name is the policy domain, as
// for a smart host (RFC 8461 §4). IP literals, parent-domain probes (".example.com") and
// invalid names return an error saying why.
func ParseNexthop(key string) (string, error) {
	nh, err := ParseNexthopKey(key)
	return nh.Domain, err
}

// ParseNexthopKey takes a Postfix next-hop key apart (conformance.md §1): "domain",
// "domain:port" (MX lookup, TLSA at _<port>._tcp.<mx>), "[host]" and "[host]:port" (no
// MX lookup, TLSA at _<port>._tcp.<host>). The port is a decimal number or one of the
// SMTP service names Postfix accepts (smtp, submission, submissions, smtps). A key that
// is already canonical costs no allocation.
func ParseNexthopKey(key string) (Nexthop, error) {
	var nh Nexthop
	err := parseNexthopInto(key, &nh)
	return nh, err
}

// parseNexthopInto is ParseNexthopKey writing into nh (the lookup path: no copies).
func parseNexthopInto(key string, nh *Nexthop) error {
	if canonicalDomain(key) {
		// The common key, and every cached lookup's: already the policy domain.
		nh.Domain, nh.Host, nh.Port, nh.DANEKey = key, false, DefaultPort, key
		return nil
	}
	return parseNexthopFull(key, nh)
}

// parseNexthopFull takes any key apart: brackets, port, case, U-labels, trailing dot.
func parseNexthopFull(key string, nh *Nexthop) error {
	s := strings.TrimSpace(key)
	trimmed := s
	if s == "" {
		return ErrEmptyNexthop
	}
	portText, hasPort := "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return ErrInvalidName
		}
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return ErrInvalidName
			}
			portText, hasPort = rest[1:], true
		}
		s = s[1:end]
		nh.Host = true
		if isIPLiteral(s) {
			return ErrIPLiteral
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 {
			if isIPLiteral(s) {
				return ErrIPLiteral
			}
			return ErrInvalidName
		}
		portText, hasPort = s[i+1:], true
		s = s[:i]
	}
	nh.Port = DefaultPort
	canonicalPort := true
	if hasPort {
		p, canon, ok := parsePort(portText)
		if !ok {
			if isIPLiteral(s) {
				return ErrIPLiteral
			}
			return ErrInvalidName
		}
		nh.Port, canonicalPort = p, canon && p != DefaultPort
	}
	if strings.HasPrefix(s, ".") {
		return ErrParentProbe
	}
	if isIPLiteral(s) {
		return ErrIPLiteral
	}
	name := strings.TrimSuffix(s, ".")
	var err error
	if plainLDH(name) {
		// Already what the IDNA mapping would return: skip it (the common case, and the
		// hot path of every cached lookup).
		nh.Domain, err = finishNexthop(name)
	} else {
		// A name is a string of characters (RFC 5890 §2.3.2.1): bytes that are not UTF-8
		// are not one. The IDNA mapping would turn each into U+FFFD without complaint
		// (\xff\xfe.test became xn--zn7ca.test, a name somebody could register), so
		// refuse them first.
		if !utf8.ValidString(name) {
			return ErrInvalidName
		}
		// U-labels become A-labels the way a resolver would see them (UTS #46 lookup, RFC 5891).
		ascii, ierr := idna.Lookup.ToASCII(name)
		if ierr != nil {
			return ErrInvalidName
		}
		nh.Domain, err = finishNexthop(strings.ToLower(ascii))
	}
	if err != nil {
		nh.Domain = ""
		return err
	}
	nh.DANEKey = daneKey(trimmed, nh, name == nh.Domain && canonicalPort)
	return nil
}

// daneKey is the canonical cache key of nh's DANE facts. trimmed is the key as sent;
// sameText says its name and port are written the canonical way, so that the canonical
// key, when it is not the bare domain, is trimmed itself (no allocation).
func daneKey(trimmed string, nh *Nexthop, sameText bool) string {
	switch {
	case !nh.Host && nh.Port == DefaultPort:
		return nh.Domain
	case sameText && nh.Host && nh.Port == DefaultPort && len(trimmed) == len(nh.Domain)+2:
		return trimmed // "[host]"
	case sameText && nh.Port != DefaultPort:
		return trimmed // "[host]:587", "domain:587"
	}
	k := nh.Domain
	if nh.Host {
		k = "[" + k + "]"
	}
	if nh.Port != DefaultPort {
		k += ":" + strconv.Itoa(int(nh.Port))
	}
	return k
}

// parsePort reads a Postfix port: a decimal number 1–65535 or an SMTP service name.
// canonical says the text is the number as strconv.Itoa writes it.
func parsePort(s string) (port uint16, canonical, ok bool) {
	switch s {
	case "smtp":
		return 25, false, true
	case "submission":
		return 587, false, true
	case "submissions", "smtps":
		return 465, false, true
	}
	if s == "" || len(s) > 5 {
		return 0, false, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > 65535 {
		return 0, false, false
	}
	return uint16(n), s[0] != '0', true
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

// canonicalDomain reports, in one pass, whether key is a next-hop that parses to itself: a
// lower-case LDH host name of at least two labels (RFC 1123 §2.1: labels of 1–63 letters,
// digits and inner hyphens, the last not all digits), no trailing dot, no brackets or
// port, and no label of the reserved "??--" form (RFC 5891 §4.2.3.1) that the IDNA mapping
// would check. Such a key is its own policy domain and DANE key, and no IP literal;
// every other key takes the full parse (FuzzNexthopCanonical checks that the two agree).
func canonicalDomain(key string) bool {
	if len(key) == 0 || len(key) > dnsname.MaxLen {
		return false
	}
	label, dots, digits := 0, 0, true // digits: the current label is all digits so far
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z':
			digits = false
		case c >= '0' && c <= '9':
		case c == '-':
			if label == 0 || label == 3 && key[i-1] == '-' {
				return false
			}
			digits = false
		case c == '.':
			if label == 0 || key[i-1] == '-' {
				return false
			}
			label, dots, digits = 0, dots+1, true
			continue
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return dots > 0 && label > 0 && key[len(key)-1] != '-' && !digits
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
