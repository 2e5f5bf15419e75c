package config

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"

	"github.com/mailtls/mailtls/internal/dnsname"
)

// overrideLevel reports whether level is a Postfix TLS security level an override may pin
// (postconf(5) smtp_tls_security_level), and whether it takes match= patterns.
func overrideLevel(level string) (known, takesMatch bool) {
	switch level {
	case "none", "may", "encrypt", "dane", "dane-only", "fingerprint":
		return true, false
	case "verify", "secure":
		return true, true
	}
	return false, false
}

// isSHA256Fingerprint reports whether f is 32 hex pairs separated by colons, as Postfix
// prints and expects with smtp_tls_fingerprint_digest = sha256.
func isSHA256Fingerprint(f string) bool {
	if len(f) != 32*3-1 {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// NormalizeOverrideDomain returns the lower-case A-label form of an override domain,
// keeping a leading dot (suffix rule), or an error.
func NormalizeOverrideDomain(d string) (string, error) {
	suffix := strings.HasPrefix(d, ".")
	name := strings.TrimSuffix(strings.TrimPrefix(d, "."), ".")
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil || !dnsname.Valid(ascii) {
		return "", fmt.Errorf("%q is not a domain name (or .suffix)", d)
	}
	ascii = strings.ToLower(ascii)
	if suffix {
		return "." + ascii, nil
	}
	return ascii, nil
}

func (c *Config) validateOverrides(bad func(path, format string, args ...any)) {
	seen := map[string]int{}
	for i, o := range c.Overrides {
		p := fmt.Sprintf("overrides.%d", i)
		dom, err := NormalizeOverrideDomain(o.Domain)
		if err != nil {
			bad(p+".domain", "%v", err)
		} else if j, dup := seen[dom]; dup {
			bad(p+".domain", "%s is already overridden by overrides.%d", dom, j)
		} else {
			seen[dom] = i
		}
		known, takesMatch := overrideLevel(o.Level)
		if !known {
			bad(p+".level", "%q is not one of none, may, encrypt, verify, secure, fingerprint, dane, dane-only", o.Level)
			continue
		}
		if len(o.Match) > 0 && !takesMatch {
			bad(p+".match", "level %s takes no match patterns (only verify and secure do)", o.Level)
		}
		for j, m := range o.Match {
			if !validMatchPattern(m) {
				bad(fmt.Sprintf("%s.match.%d", p, j), "%q is not a Postfix match pattern (hostname, .suffix, nexthop, dot-nexthop)", m)
			}
		}
		switch {
		case o.Level == "fingerprint" && len(o.Fingerprints) == 0:
			bad(p+".fingerprints", "level fingerprint needs at least one SHA-256 fingerprint")
		case o.Level != "fingerprint" && len(o.Fingerprints) > 0:
			bad(p+".fingerprints", "fingerprints apply to level fingerprint only")
		}
		for j, f := range o.Fingerprints {
			if !isSHA256Fingerprint(f) {
				bad(fmt.Sprintf("%s.fingerprints.%d", p, j), "%q is not a SHA-256 fingerprint (32 hex pairs joined by colons)", f)
			}
		}
	}
}

// validMatchPattern accepts what Postfix's match= takes for verify and secure: a host
// name, a ".suffix", or the keywords hostname, nexthop and dot-nexthop.
func validMatchPattern(m string) bool {
	switch m {
	case "hostname", "nexthop", "dot-nexthop":
		return true
	}
	return dnsname.Valid(strings.TrimPrefix(strings.ToLower(m), "."))
}
