// Package dnsname checks host-name syntax, shared by the next-hop parser and the MTA-STS
// policy parser so both accept exactly the same names.
package dnsname

import "strings"

// MaxLen is the longest host name in presentation form without the trailing dot
// (RFC 1035 §2.3.4: 255 octets on the wire).
const MaxLen = 253

// Valid reports whether s is an ASCII host name in the syntax of RFC 5321 §4.1.2
// "Domain": dot-separated labels of letters, digits and inner hyphens, each 1–63
// characters (RFC 1035 §2.3.4). The top-level label must not be all-numeric (RFC 3696 §2),
// which keeps IPv4 literals out. No trailing dot. Case is not checked.
func Valid(s string) bool {
	if s == "" || len(s) > MaxLen {
		return false
	}
	allDigits := false
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return false
		}
		allDigits = true
		for i := 0; i < len(label); i++ {
			if label[i] < '0' || label[i] > '9' {
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
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(l)-1:
		default:
			return false
		}
	}
	return true
}
