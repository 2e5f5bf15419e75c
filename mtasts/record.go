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
// without spaces, to the letter of RFC 8461 §3.1:
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-field       = sts-id / sts-extension  ; sts-id is required
//	sts-field-delim = *WSP ";" *WSP
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-extension   = sts-ext-name "=" sts-ext-value
//	sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//
// Rule by rule:
//   - the record begins with "v=STSv1", case-sensitive (%s, RFC 7405); no leading WSP.
//   - fields are separated by ";" with optional WSP on either side; a field holds no WSP,
//     so WSP is allowed only around a ";": after the last field only a final delimiter
//     may follow ("id=1 " without ";" is invalid), and an empty field ("v=STSv1;;id=1")
//     is invalid.
//   - the id may be any field after the version (the ABNF does not order them); the first
//     field that is an sts-id is the id, a later "id=…" is kept in Extensions. A field
//     "id=" with a value that is not 1–32 letters and digits is syntactically an
//     extension: with no sts-id at all the record is invalid.
//   - an extension value has visible ASCII except "=" and ";" (no SP, no UTF-8).
func ParseRecord(txt string) (*Record, error) {
	rest, ok := strings.CutPrefix(txt, RecordVersion)
	if !ok {
		return nil, fmt.Errorf("%w: must begin with %q", ErrInvalidRecord, RecordVersion)
	}
	fields := strings.Split(rest, ";")
	if trimWSP(fields[0]) != "" {
		return nil, fmt.Errorf("%w: %q must be followed by %q", ErrInvalidRecord, RecordVersion, ";")
	}
	if len(fields) < 2 {
		return nil, fmt.Errorf("%w: missing id field", ErrInvalidRecord)
	}
	fields = fields[1:]
	// A final delimiter may end the record, followed by WSP only.
	if last := fields[len(fields)-1]; trimWSP(last) == "" && len(fields) > 1 {
		fields = fields[:len(fields)-1]
	}
	rec := &Record{}
	for i, f := range fields {
		f = strings.TrimLeft(f, " \t")
		if i < len(fields)-1 || hasTrailingDelim(txt) {
			f = strings.TrimRight(f, " \t") // WSP before the next ";" belongs to it
		}
		if f == "" {
			return nil, fmt.Errorf("%w: empty field %d", ErrInvalidRecord, i+2)
		}
		if id, ok := strings.CutPrefix(f, "id="); ok && validID(id) && rec.ID == "" {
			rec.ID = id
			continue
		}
		name, value, ok := strings.Cut(f, "=")
		if !ok || !validExtName(name) || !validRecordExtValue(value) {
			return nil, fmt.Errorf("%w: malformed field %q", ErrInvalidRecord, f)
		}
		rec.Extensions = append(rec.Extensions, [2]string{name, value})
	}
	if rec.ID == "" {
		return nil, fmt.Errorf("%w: no id field (id=1-%d letters and digits)", ErrInvalidRecord, maxIDLen)
	}
	return rec, nil
}

// hasTrailingDelim reports whether txt ends with a field delimiter: ";" then WSP only.
func hasTrailingDelim(txt string) bool {
	return strings.HasSuffix(strings.TrimRight(txt, " \t"), ";")
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
