package mtasts

import (
	"bytes"
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

// ParsePolicy parses a policy body (RFC 8461 §3.2):
//
//	sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
//	sts-policy-term   = LF / CRLF
//	field-delim       = ":" *WSP
//
// version (must be STSv1), mode and max_age are required; mx is required at least once
// unless mode is none. Keys and the version and mode values are case-sensitive (%s in the
// ABNF). Unknown keys are ignored, but must still be well-formed (RFC 8461 §3.2:
// parsers accept "syntactically valid" files with additional pairs). Choices:
//   - the first occurrence of a key other than mx wins (conformance.md §4);
//   - blank lines and whitespace around keys and values are tolerated;
//   - a line without ":" makes the policy invalid;
//   - max_age above MaxMaxAge is clamped; more than 10 digits is invalid;
//   - mx values may carry one trailing dot, which is removed; U-labels are invalid
//     ("the "mx" value MUST specify the Punycode-encoded A-label");
//   - the body must be UTF-8 (sts-policy-vchar) without control characters other than
//     TAB inside lines.
func ParsePolicy(body []byte) (*Policy, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidPolicy)
	}
	p := &Policy{}
	var haveMaxAge bool
	seen := map[string]bool{}
	for n, raw := range bytes.Split(body, []byte("\n")) {
		line := string(bytes.TrimSuffix(raw, []byte("\r")))
		if trimWSP(line) == "" {
			continue
		}
		if i := strings.IndexFunc(line, isControlNotTab); i >= 0 {
			return nil, fmt.Errorf("%w: line %d: control character %q", ErrInvalidPolicy, n+1, line[i])
		}
		p.Lines = append(p.Lines, line)
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: no \":\" in %q", ErrInvalidPolicy, n+1, line)
		}
		k, v = trimWSP(k), trimWSP(v)
		if !validExtName(k) {
			return nil, fmt.Errorf("%w: line %d: malformed key %q", ErrInvalidPolicy, n+1, k)
		}
		if v == "" {
			return nil, fmt.Errorf("%w: line %d: empty value for %q", ErrInvalidPolicy, n+1, k)
		}
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
// §4.1.2) and returns it lower-case without a trailing dot.
func parseMXPattern(v string) (string, error) {
	s := strings.ToLower(strings.TrimSuffix(v, "."))
	host := strings.TrimPrefix(s, "*.")
	if !validHostname(host) {
		return "", fmt.Errorf("mx %q is not a host name or *. wildcard in A-label form", v)
	}
	return s, nil
}

func isControlNotTab(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f
}
