package readsocket

import (
	"strconv"
	"strings"

	"github.com/mailtls/mailtls/policy"
)

// Format renders d as one reply line (without the newline). Keys:
//
//	result      OK, NOTFOUND, TEMP or PERM (policy.Result)
//	level       the TLS level when result is OK: dane, dane-only, secure, verify, encrypt, may, none, fingerprint
//	source      the deciding stage (policy.Source)
//	mx          MTA-STS: the policy's mx patterns as published (RFC 8461 §4.1), an Exim list
//	mx_regex    MTA-STS: one regular expression (PCRE, case-insensitive) matching exactly the
//	            MX host names the policy allows, for Exim's match condition: a "*."
//	            wildcard matches exactly one leftmost label (RFC 8461 §4.1)
//	sts_mode    MTA-STS: the policy's mode
//	match       the Postfix match= patterns of verify/secure answers from operator rules
//	expires     Unix time until which the decision's facts are valid
//	message     for TEMP and PERM: the reason, with spaces as underscores
func Format(d *policy.Decision) string {
	var b strings.Builder
	b.WriteString("result=")
	b.WriteString(string(d.Result))
	if d.Result == policy.OK && d.Level != "" {
		b.WriteString(" level=")
		b.WriteString(token(d.Level))
	}
	if d.Source != "" {
		b.WriteString(" source=")
		b.WriteString(token(string(d.Source)))
	}
	if p := &d.STS; !p.IsZero() && d.Result == policy.OK {
		b.WriteString(" sts_mode=")
		b.WriteString(token(p.Mode))
		b.WriteString(" mx=<;")
		for i, mx := range p.MX {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(token(mx))
		}
		b.WriteString(" mx_regex=(?i)^(")
		for i, mx := range p.MX {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(domainPattern(mx))
		}
		b.WriteString(")$")
	} else if len(d.Match) > 0 && d.Result == policy.OK {
		b.WriteString(" match=<;")
		for i, m := range d.Match {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(token(m))
		}
	}
	if !d.Expires.IsZero() {
		b.WriteString(" expires=")
		b.WriteString(strconv.FormatInt(d.Expires.Unix(), 10))
	}
	if d.Result == policy.Temp || d.Result == policy.Perm {
		msg := d.Message
		if msg == "" {
			msg = "policy lookup failed"
		}
		b.WriteString(" message=")
		b.WriteString(token(strings.ReplaceAll(msg, " ", "_")))
	}
	return b.String()
}

// domainPattern turns one MTA-STS mx pattern into a regular expression alternative
// (anchored by Format): "mx1.example.net" becomes mx1[.]example[.]net and "*.example.net"
// becomes [^.]+[.]example[.]net, one label in place of the asterisk and no more (RFC 8461
// §4.1). A pattern with characters no host name has becomes one that matches nothing.
func domainPattern(mx string) string {
	mx = strings.ToLower(strings.TrimSuffix(mx, "."))
	rest, wild := strings.CutPrefix(mx, "*.")
	var b strings.Builder
	if wild {
		b.WriteString("[^.]+[.]")
	}
	for _, c := range rest {
		switch {
		case c == '.':
			b.WriteString("[.]")
		case c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z':
			b.WriteRune(c)
		default: // not a host name character: an alternative that matches nothing
			return "x^" // "^" after a character never matches
		}
	}
	return b.String()
}

// token keeps a value safe inside the reply: no white space, quotes, backslashes, list
// separators of the "<;" lists, or control characters (each becomes '_'), and not empty.
func token(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '"' || r == '\\' || r == ';' || r == '=' {
			return '_'
		}
		return r
	}, s)
}
