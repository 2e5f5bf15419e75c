package httpapi

import "unicode/utf8"

// A hand-written JSON encoder for the API's few, fixed shapes: it appends to a caller's
// buffer and allocates nothing. Strings are escaped as RFC 8259 §7 requires — quotation
// mark, reverse solidus and the control characters U+0000 to U+001F — and, like
// encoding/json, also <, > and & (so a body is safe to embed in HTML) and U+2028/U+2029
// (so it is valid JavaScript); invalid UTF-8 becomes U+FFFD (§8.1: JSON text is UTF-8).
// The output of appendString is byte for byte what encoding/json gives (tested).

const hexDigits = "0123456789abcdef"

// asciiPlain says whether the ASCII byte c goes into a JSON string as it is.
func asciiPlain(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
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

// appendStrings appends ss as a JSON array of strings; nil is null, as encoding/json has it.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendField appends ,"name": (or "name": first in an object, when comma is false).
// name is a constant of this package that needs no escaping.
func appendField(b []byte, name string, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}
