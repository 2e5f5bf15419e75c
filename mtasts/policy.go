package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Mode is a policy's enforcement mode (RFC 8461 §3.2, §5).
type Mode string

// The three modes of RFC 8461 §3.2.
const (
	ModeEnforce Mode = "enforce"
	ModeTesting Mode = "testing"
	ModeNone    Mode = "none"
)

// PolicyVersion is the only policy version RFC 8461 §3.2 defines.
const PolicyVersion = "STSv1"

// MaxMaxAge is the largest max_age in seconds, about one year (RFC 8461 §3.2). Larger
// values are clamped to it.
const MaxMaxAge = 31557600

// maxAgeDigits bounds the max_age value: sts-policy-max-age-value = 1*10(DIGIT).
const maxAgeDigits = 10

// ErrInvalidPolicy is wrapped by every error ParsePolicy returns.
var ErrInvalidPolicy = errors.New("invalid MTA-STS policy")

// Policy is a parsed MTA-STS policy file (RFC 8461 §3.2).
type Policy struct {
	Version string // always PolicyVersion
	Mode    Mode
	MaxAge  uint32 // seconds, at most MaxMaxAge
	// MX holds the mx patterns in order: A-label host names or "*." wildcards, lower-case,
	// without trailing dot. Empty only when Mode is ModeNone.
	MX []string
	// Lines are the policy's non-blank lines as received, without line terminators, for
	// the TLSRPT policy-string (RFC 8460 §4.3).
	Lines []string
}

// ParsePolicy parses a policy body to the letter of RFC 8461 §3.2:
//
//	sts-policy-record    = sts-policy-field *WSP
//	                       *(sts-policy-term sts-policy-field *WSP)
//	                       [sts-policy-term]
//	sts-policy-field     = sts-policy-version / sts-policy-mode / sts-policy-max-age /
//	                       0*(sts-policy-mx *WSP sts-policy-term) / sts-policy-extension
//	field-delim          = ":" *WSP
//	sts-policy-extension = sts-policy-ext-name field-delim sts-policy-ext-value
//	sts-policy-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
//	sts-policy-vchar     = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
//	sts-policy-term      = LF / CRLF
//
// Rule by rule:
//   - lines end in LF or CRLF (sts-policy-term); a CR anywhere else is invalid, the last
//     line may lack a terminator. Each line is one field, then *WSP.
//   - field-delim is ":" *WSP: the key is followed by ":" at once, so "mode : enforce" or
//     " mode: enforce" is no field at all, and the policy is invalid. Every field has the
//     shape of sts-policy-extension: a well-formed name, ":", optional WSP, a value of
//     visible characters (UTF-8 allowed) with single spaces inside and no TAB or control
//     character, and optional WSP before the line's end.
//   - a line that is empty or only WSP is grammatical: sts-policy-field's
//     0*(sts-policy-mx …) alternative matches the empty string. It is skipped.
//   - keys and the version and mode values are case-sensitive (%s, RFC 7405): "Mode" is an
//     extension, ignored like every unknown key. version must be STSv1; mode enforce,
//     testing or none; max_age 1*10(DIGIT), clamped to MaxMaxAge (0 is valid); mx
//     ["*."] Domain (RFC 5321 §4.1.2: letters, digits, hyphens, no trailing dot), in
//     A-label form, lower-cased.
//   - version, mode and max_age are required; mx at least once unless mode is none. A
//     duplicated key other than mx: the first occurrence decides (conformance.md §4), the
//     later ones must still be well-formed fields. Every valid mx line counts; an mx value
//     that is not a pattern makes the policy invalid.
//   - the body must be UTF-8 (RFC 3629).
func ParsePolicy(body []byte) (*Policy, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidPolicy)
	}
	p := &Policy{}
	var haveMaxAge bool
	seen := map[string]bool{}
	for n, line := range policyLines(body) {
		if i := strings.IndexByte(line, '\r'); i >= 0 {
			return nil, fmt.Errorf("%w: line %d: CR not followed by LF", ErrInvalidPolicy, n+1)
		}
		if trimWSP(line) == "" {
			continue
		}
		k, v, err := policyField(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrInvalidPolicy, n+1, err)
		}
		p.Lines = append(p.Lines, line)
		if k == "mx" {
			mx, err := parseMXPattern(v)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrInvalidPolicy, n+1, err)
			}
			p.MX = append(p.MX, mx)
			continue
		}
		if seen[k] {
			continue // first occurrence wins
		}
		seen[k] = true
		switch k {
		case "version":
			if v != PolicyVersion {
				return nil, fmt.Errorf("%w: line %d: version %q, want %q", ErrInvalidPolicy, n+1, v, PolicyVersion)
			}
			p.Version = v
		case "mode":
			switch m := Mode(v); m {
			case ModeEnforce, ModeTesting, ModeNone:
				p.Mode = m
			default:
				return nil, fmt.Errorf("%w: line %d: mode %q is not enforce, testing or none", ErrInvalidPolicy, n+1, v)
			}
		case "max_age":
			age, err := parseMaxAge(v)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrInvalidPolicy, n+1, err)
			}
			p.MaxAge, haveMaxAge = age, true
		}
	}
	switch {
	case p.Version == "":
		return nil, fmt.Errorf("%w: missing version", ErrInvalidPolicy)
	case p.Mode == "":
		return nil, fmt.Errorf("%w: missing mode", ErrInvalidPolicy)
	case !haveMaxAge:
		return nil, fmt.Errorf("%w: missing max_age", ErrInvalidPolicy)
	case len(p.MX) == 0 && p.Mode != ModeNone:
		return nil, fmt.Errorf("%w: mode %s needs at least one mx", ErrInvalidPolicy, p.Mode)
	}
	return p, nil
}

// policyLines splits body at its sts-policy-terms (LF or CRLF) into lines without them.
// A CR that ends the body, without LF, stays in the last line (and makes it invalid).
func policyLines(body []byte) []string {
	lines := strings.Split(string(body), "\n")
	for i := range len(lines) - 1 {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the body ended with a terminator
	}
	return lines
}

// policyField splits a non-blank line into its key and value: name ":" *WSP value *WSP,
// the shape every field of RFC 8461 §3.2 has (sts-policy-extension).
func policyField(line string) (key, value string, err error) {
	key, rest, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", fmt.Errorf("no \":\" in %q", line)
	}
	if !validExtName(key) {
		return "", "", fmt.Errorf("malformed key %q (field-delim is \":\" right after the key)", key)
	}
	value = strings.TrimRight(strings.TrimLeft(rest, " \t"), " \t")
	if !validPolicyExtValue(value) {
		return "", "", fmt.Errorf("malformed value %q for %q", value, key)
	}
	return key, value, nil
}

// validPolicyExtValue checks sts-policy-ext-value: sts-policy-vchar [*(%x20 /
// sts-policy-vchar) sts-policy-vchar], sts-policy-vchar = %x21-7E / UTF8-2 / UTF8-3 /
// UTF8-4. v is valid UTF-8 (ParsePolicy checked the body).
func validPolicyExtValue(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false // controls, TAB included; bytes ≥ 0x80 belong to UTF-8 characters
		}
	}
	return true
}

// parseMaxAge parses sts-policy-max-age-value = 1*10(DIGIT) and clamps it to MaxMaxAge.
func parseMaxAge(v string) (uint32, error) {
	if len(v) > maxAgeDigits {
		return 0, fmt.Errorf("max_age %q has more than %d digits", v, maxAgeDigits)
	}
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, fmt.Errorf("max_age %q is not a non-negative integer", v)
		}
	}
	n, err := strconv.ParseUint(v, 10, 64) // 10 digits always fit
	if err != nil {
		return 0, fmt.Errorf("max_age %q: %w", v, err)
	}
	return uint32(min(n, MaxMaxAge)), nil
}

// parseMXPattern checks sts-policy-mx-value = ["*."] Domain (RFC 8461 §3.2, RFC 5321
// §4.1.2, which has no trailing dot) and returns it lower-case.
func parseMXPattern(v string) (string, error) {
	s := strings.ToLower(v)
	host := strings.TrimPrefix(s, "*.")
	if strings.HasSuffix(host, ".") || !validHostname(host) {
		return "", fmt.Errorf("mx %q is not a host name or *. wildcard in A-label form", v)
	}
	return s, nil
}
