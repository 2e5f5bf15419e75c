package mtasts

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name string
		txt  string
		id   string // "" means invalid
		ext  [][2]string
	}{
		{"§3.1 example record", "v=STSv1; id=20160831085700Z;", "20160831085700Z", nil},
		{"§3.1 no trailing delimiter", "v=STSv1; id=20160831085700Z", "20160831085700Z", nil},
		{"§3.1 field-delim without spaces", "v=STSv1;id=abc", "abc", nil},
		{"§3.1 field-delim WSP before ;", "v=STSv1 ;\tid=abc", "abc", nil},
		{"§3.1 trailing delimiter and WSP", "v=STSv1; id=abc; ", "abc", nil},
		{"§3.1 WSP after the last field only with a final delimiter", "v=STSv1; id=abc  ", "", nil},
		{"§3.1 WSP inside a field", "v=STSv1; id= abc", "", nil},
		{"§3.1 WSP around = is not allowed", "v=STSv1; id =abc", "", nil},
		{"§3.1 two final delimiters", "v=STSv1; id=abc;;", "", nil},
		{"§3.1 final delimiter with WSP both sides", "v=STSv1; id=abc \t; \t", "abc", nil},
		{"§3.1 id 32 characters", "v=STSv1; id=abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345", nil},
		{"§3.1 id 33 characters", "v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456", "", nil},
		{"§3.1 id empty", "v=STSv1; id=", "", nil},
		{"§3.1 id non-alphanumeric", "v=STSv1; id=2016-08-31", "", nil},
		{"§3.1 id missing", "v=STSv1;", "", nil},
		{"§3.1 version only", "v=STSv1", "", nil},
		{"§3.1 version case-sensitive", "v=stsv1; id=abc", "", nil},
		{"§3.1 id= case-sensitive", "v=STSv1; ID=abc", "", nil},
		{"§3.1 other version", "v=STSv2; id=abc", "", nil},
		{"§3.1 version must come first", "id=abc; v=STSv1", "", nil},
		{"§3.1 no leading whitespace", " v=STSv1; id=abc", "", nil},
		{"§3.1 sts-field order is free: id after an extension", "v=STSv1; ext=1; id=abc", "abc", [][2]string{{"ext", "1"}}},
		{"§3.1 id= with a non-id value is an extension, and no id remains", "v=STSv1; id=abc-def", "", nil},
		{"§3.1 the first sts-id is the id, a malformed id= before it an extension", "v=STSv1; id=a-b; id=ok", "ok", [][2]string{{"id", "a-b"}}},
		{"§3.1 missing delimiter", "v=STSv1 id=abc", "", nil},
		{"§3.1 empty field", "v=STSv1;; id=abc", "", nil},
		{"§3.1 extension kept", "v=STSv1; id=abc; foo=bar:baz", "abc", [][2]string{{"foo", "bar:baz"}}},
		{"§3.1 extension name with _-.", "v=STSv1; id=abc; a_b-c.d=1", "abc", [][2]string{{"a_b-c.d", "1"}}},
		{"§3.1 duplicate id: first wins, later one is an extension", "v=STSv1; id=first; id=second", "first", [][2]string{{"id", "second"}}},
		{"§3.1 extension without =", "v=STSv1; id=abc; foo", "", nil},
		{"§3.1 extension empty value", "v=STSv1; id=abc; foo=", "", nil},
		{"§3.1 extension value with =", "v=STSv1; id=abc; foo=a=b", "", nil},
		{"§3.1 extension value with space", "v=STSv1; id=abc; foo=a b", "", nil},
		{"§3.1 extension name starting with _", "v=STSv1; id=abc; _foo=1", "", nil},
		{"§3.1 extension name too long", "v=STSv1; id=abc; a23456789012345678901234567890123=1", "", nil},
		{"§3.1 extension value non-ASCII", "v=STSv1; id=abc; foo=é", "", nil},
		{"empty", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := ParseRecord(tc.txt)
			if tc.id == "" {
				if err == nil {
					t.Fatalf("ParseRecord(%q) = %+v, want error", tc.txt, rec)
				}
				if !errors.Is(err, ErrInvalidRecord) {
					t.Fatalf("error %v does not wrap ErrInvalidRecord", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRecord(%q): %v", tc.txt, err)
			}
			if rec.ID != tc.id || !reflect.DeepEqual(rec.Extensions, tc.ext) {
				t.Fatalf("ParseRecord(%q) = %+v, want id %q ext %v", tc.txt, rec, tc.id, tc.ext)
			}
		})
	}
}

func TestIsCandidate(t *testing.T) {
	tests := []struct {
		name string
		txt  string
		want bool
	}{
		{"§3.1 begins with v=STSv1;", "v=STSv1; id=1", true},
		{"§3.1 invalid but still a candidate", "v=STSv1;", true},
		{"§3.1 ABNF WSP before ; (errata 6285)", "v=STSv1 ; id=1", true},
		{"§3.1 no ;", "v=STSv1", false},
		{"§3.1 longer version token", "v=STSv10; id=1", false},
		{"§3.1 case-sensitive", "V=STSv1; id=1", false},
		{"unrelated record", "v=spf1 -all", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isCandidate(tc.txt); got != tc.want {
				t.Fatalf("isCandidate(%q) = %v, want %v", tc.txt, got, tc.want)
			}
		})
	}
}
