package jsonenc

import "strings"

// TrickyStrings returns strings whose JSON form needs care (RFC 8259 §7, §8.1): quotation
// marks and backslashes, control characters, HTML-special characters, U+2028/U+2029,
// Unicode and IDN names, invalid and truncated UTF-8, surrogate halves. For the tests of
// this package and of the encoders built on it (a new slice on every call).
func TrickyStrings() []string {
	return []string{
		"", "plain.example", `quote " and backslash \ and slash /`, "\x00\x01\x1f\x7f",
		"\b\f\n\r\t", "<script>&amp;</script>", "\u2028line\u2029para", "bücher.example",
		"xn--bcher-kva.example", "例え.テスト", "emoji 📬 mail", "invalid \xff\xfe utf-8", "truncated \xe2\x82",
		"\xed\xa0\x80 surrogate half", "U+FFFD \ufffd itself", "\u0085 NEL and \u00a0 NBSP", "tab\tin middle",
		strings.Repeat("long ", 300), "trailing backslash \\", "\"", "é", "\xc3",
	}
}
