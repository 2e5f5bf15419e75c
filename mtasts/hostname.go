package mtasts

import (
	"strings"

	"github.com/mailtls/mailtls/internal/dnsname"
)

// maxHostnameLen is the longest host name (dnsname.MaxLen).
const maxHostnameLen = dnsname.MaxLen

// validHostname is the shared host-name syntax check (RFC 5321 §4.1.2).
func validHostname(s string) bool { return dnsname.Valid(s) }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWSP(c byte) bool   { return c == ' ' || c == '\t' }

// trimWSP removes RFC 5234 WSP (space and horizontal tab) from both ends.
func trimWSP(s string) string { return strings.Trim(s, " \t") }
