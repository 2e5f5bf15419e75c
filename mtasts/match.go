package mtasts

import (
	"strings"

	"golang.org/x/net/idna"
)

// MatchMX reports whether MX host name host matches policy pattern pattern (RFC 8461
// §4.1). A pattern "*.example.com" matches exactly one extra left-most label
// ("mail.example.com", not "example.com" nor "a.b.example.com"); any other pattern matches
// only the same name. Names are compared as A-labels, case-insensitively, ignoring one
// trailing dot; U-labels are converted with the IDNA lookup profile (RFC 5891 §5). Names
// that do not convert never match.
func MatchMX(pattern, host string) bool {
	h, ok := toALabel(host)
	if !ok || strings.Contains(h, "*") {
		return false
	}
	if suffix, wild := strings.CutPrefix(pattern, "*."); wild {
		s, ok := toALabel(suffix)
		if !ok {
			return false
		}
		first, rest, found := strings.Cut(h, ".")
		return found && first != "" && rest == s
	}
	p, ok := toALabel(pattern)
	return ok && p == h
}

// Match reports whether host matches any of the policy's mx patterns (RFC 8461 §4.1).
func (p *Policy) Match(host string) bool {
	for _, pat := range p.MX {
		if MatchMX(pat, host) {
			return true
		}
	}
	return false
}

// toALabel returns name lower-case, without one trailing dot, in A-label form. Pure ASCII
// names are only lower-cased; names with non-ASCII characters go through idna.Lookup.
func toALabel(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(name)
			if err != nil || a == "" {
				return "", false
			}
			return a, true
		}
	}
	return strings.ToLower(name), true
}
