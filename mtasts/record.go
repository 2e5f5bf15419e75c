package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// RecordVersion is the version field every MTA-STS TXT record starts with (RFC 8461 §3.1,
// case-sensitive: the ABNF uses %s"v=STSv1").
const RecordVersion = "v=STSv1"

// maxIDLen is the longest policy id: sts-id = %s"id=" 1*32(ALPHA / DIGIT) (RFC 8461 §3.1).
const maxIDLen = 32

// maxExtNameLen is the longest extension name: (ALPHA / DIGIT) *31(...) (RFC 8461 §3.1).
const maxExtNameLen = 32

// ErrInvalidRecord is wrapped by every error ParseRecord returns.
var ErrInvalidRecord = errors.New("invalid MTA-STS record")

// Record is a parsed "_mta-sts" TXT record (RFC 8461 §3.1).
type Record struct {
	// ID identifies the policy instance; a change tells senders to refetch the policy.
	ID string
	// Extensions are the fields after id, in order, as name/value pairs. They carry no
	// meaning in RFC 8461 and are kept for explanations only.
	Extensions [][2]string
}

// ParseRecord parses one TXT record whose character-strings were already concatenated
// without spaces (RFC 8461 §3.1). The grammar is
//
//	sts-text-record = sts-version field-delim sts-id [field-delim sts-extensions] [field-delim]
//	field-delim     = *WSP ";" *WSP
//
// Choices where the RFC leaves room, all in the direction of the ABNF:
//   - "v=STSv1" and "id=" are case-sensitive (%s in the ABNF, RFC 7405).
//   - id must be the second field, as the ABNF orders it. A later "id=" field is
//     syntactically an extension (sts-ext-name allows "id"), so the first id wins and the
//     later one is kept in Extensions.
//   - Trailing whitespace after the last field is tolerated (the ABNF allows it only after
//     a final ";"); it cannot change the meaning of the record. Leading whitespace is not:
//     the record must begin with "v=STSv1".
//   - An empty field between two delimiters ("v=STSv1;;id=1") is invalid.
func ParseRecord(txt string) (*Record, error) {
	fields := strings.Split(txt, ";")
	if strings.TrimRight(fields[0], " \t") != RecordVersion || len(fields) < 2 {
		return nil, fmt.Errorf("%w: must begin with %q followed by %q", ErrInvalidRecord, RecordVersion, ";")
	}
	fields = fields[1:]
	// A single trailing delimiter (optionally followed by WSP) is allowed.
	if trimWSP(fields[len(fields)-1]) == "" {
		fields = fields[:len(fields)-1]
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: missing id field", ErrInvalidRecord)
	}
	rec := &Record{}
	for i, f := range fields {
		f = trimWSP(f)
		if f == "" {
			return nil, fmt.Errorf("%w: empty field %d", ErrInvalidRecord, i+2)
		}
		if i == 0 {
			id, ok := strings.CutPrefix(f, "id=")
			if !ok {
				return nil, fmt.Errorf("%w: second field must be id=, got %q", ErrInvalidRecord, f)
			}
			if !validID(id) {
				return nil, fmt.Errorf("%w: id %q must be 1-%d letters and digits", ErrInvalidRecord, id, maxIDLen)
			}
			rec.ID = id
			continue
		}
		name, value, ok := strings.Cut(f, "=")
		if !ok || !validExtName(name) || !validRecordExtValue(value) {
			return nil, fmt.Errorf("%w: malformed extension field %q", ErrInvalidRecord, f)
		}
		rec.Extensions = append(rec.Extensions, [2]string{name, value})
	}
	return rec, nil
}

// isCandidate reports whether a TXT record counts as an MTA-STS record when several TXT
// records are present (RFC 8461 §3.1: "records that do not begin with "v=STSv1;" are
// discarded"). The ABNF lets WSP precede the ";" (field-delim = *WSP ";" *WSP, see RFC
// errata 6285), so "v=STSv1 ;" is a candidate too; "v=STSv1" with no ";" is not.
func isCandidate(txt string) bool {
	rest, ok := strings.CutPrefix(txt, RecordVersion)
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return strings.HasPrefix(rest, ";")
}

// validID checks sts-id's value: 1*32(ALPHA / DIGIT).
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isAlpha(id[i]) && !isDigit(id[i]) {
			return false
		}
	}
	return true
}

// validExtName checks an extension name, the same production in the TXT record
// (sts-ext-name, §3.1) and the policy (sts-policy-ext-name, §3.2):
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func validExtName(n string) bool {
	if n == "" || len(n) > maxExtNameLen || !isAlpha(n[0]) && !isDigit(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		c := n[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validRecordExtValue checks sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible ASCII
// except "=" and ";" (RFC 8461 §3.1).
func validRecordExtValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '=' || c == ';' {
			return false
		}
	}
	return true
}
