package mtasts

import "strings"

// maxHostnameLen is the longest host name in presentation form without the trailing dot
// (RFC 1035 §2.3.4: 255 octets on the wire).
const maxHostnameLen = 253

// validHostname reports whether s is an ASCII host name in the syntax of RFC 5321 §4.1.2
// "Domain": dot-separated labels of letters, digits and inner hyphens, each 1–63
// characters (RFC 1035 §2.3.4). The top-level label must not be all-numeric (RFC 3696 §2),
// which keeps IPv4 literals out. No trailing dot. Case is not checked.
func validHostname(s string) bool {
	if s == "" || len(s) > maxHostnameLen {
		return false
	}
	allDigits := false
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return false
		}
		allDigits = true
		for i := 0; i < len(label); i++ {
			if !isDigit(label[i]) {
				allDigits = false
				break
			}
		}
	}
	return !allDigits
}

// validLabel checks one LDH label: Let-dig [Ldh-str] (RFC 5321 §4.1.2), 1–63 octets.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c) || isDigit(c):
		case c == '-' && i > 0 && i < len(l)-1:
		default:
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWSP(c byte) bool   { return c == ' ' || c == '\t' }

// trimWSP removes RFC 5234 WSP (space and horizontal tab) from both ends.
func trimWSP(s string) string { return strings.Trim(s, " \t") }
