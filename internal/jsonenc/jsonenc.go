// Package jsonenc is a hand-written JSON encoder for the few, fixed shapes of the HTTP
// API's bodies and the audit log's lines: it appends to a caller's buffer and allocates
// nothing. Strings are escaped as RFC 8259 §7 requires — quotation
// mark, reverse solidus and the control characters U+0000 to U+001F — and, like
// encoding/json, also <, > and & (so a body is safe to embed in HTML) and U+2028/U+2029
// (so it is valid JavaScript); invalid UTF-8 becomes U+FFFD (§8.1: JSON text is UTF-8).
// Every function's output is byte for byte what encoding/json gives for the same value
// (tested), so a line or body written here reads like one written by encoding/json.
package jsonenc

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// asciiPlain says whether the ASCII byte c goes into a JSON string as it is.
func asciiPlain(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// AppendString appends s as a JSON string.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiPlain(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default: // other control characters, <, >, &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendStrings appends ss as a JSON array of strings; nil is null, as encoding/json has it.
func AppendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// AppendField appends ,"name": (or "name": first in an object, when comma is false).
// name is a constant of the caller that needs no escaping.
func AppendField(b []byte, name string, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// AppendTimeUTC appends t in UTC as encoding/json encodes a time.Time: an RFC 3339 string
// with nanoseconds and no trailing zeros (time.RFC3339Nano). ok is false, and b is
// returned as it was, for a year RFC 3339 cannot carry (0000–9999), which encoding/json
// refuses as well.
func AppendTimeUTC(b []byte, t time.Time) (_ []byte, ok bool) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// AppendFloat appends the finite number f as encoding/json encodes a float64 (RFC 8259
// §6): the shortest decimal that reads back as f, in exponent form only below 1e-6 or
// from 1e21 on. NaN and infinities, which JSON cannot carry (and encoding/json refuses),
// are the caller's to keep out.
func AppendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-07 becomes e-7, as encoding/json writes it
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
