package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// trickyStrings are strings whose JSON form needs care (RFC 8259 §7, §8.1).
var trickyStrings = []string{
	"", "plain.example", `quote " and backslash \ and slash /`, "\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "<script>&amp;</script>", "\u2028line\u2029para", "bücher.example",
	"xn--bcher-kva.example", "例え.テスト", "emoji 📬 mail", "invalid \xff\xfe utf-8", "truncated \xe2\x82",
	"\xed\xa0\x80 surrogate half", "U+FFFD \ufffd itself", "\u0085 NEL and \u00a0 NBSP", "tab\tin middle",
	strings.Repeat("long ", 300), "trailing backslash \\", "\"", "é", "\xc3",
}

// appendString gives exactly encoding/json's bytes for every tricky string.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyStrings {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, encoding/json %s", s, got, want)
		}
	}
	for _, ss := range [][]string{nil, {}, {"a"}, trickyStrings} {
		want, _ := json.Marshal(ss)
		if got := appendStrings(nil, ss); string(got) != string(want) {
			t.Errorf("%q: got %s, encoding/json %s", ss, got, want)
		}
	}
}

// Every string, however broken, becomes valid JSON that decodes to the string with
// invalid UTF-8 replaced, byte for byte as encoding/json encodes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString([]byte("x"), s)[1:]
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || !utf8.ValidString(string(got)) {
			t.Fatalf("%q: %s does not decode: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q decodes to %q", s, back)
		}
	})
}
