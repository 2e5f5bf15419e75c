package mtasts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	type want struct {
		mode   Mode
		maxAge uint32
		mx     []string
		lines  []string
	}
	tests := []struct {
		name string
		body string
		want *want // nil means invalid
	}{
		{"§3.2 example, CRLF", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
			&want{ModeEnforce, 604800, []string{"mail.example.com", "*.example.net", "backupmx.example.com"},
				[]string{"version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net", "mx: backupmx.example.com", "max_age: 604800"}}},
		{"§3.2 LF terminators (errata 6253)", "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n",
			&want{ModeTesting, 86400, []string{"mx.example.com"}, []string{"version: STSv1", "mode: testing", "mx: mx.example.com", "max_age: 86400"}}},
		{"§3.2 no final terminator", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 1",
			&want{ModeEnforce, 1, []string{"mx.example.com"}, nil}},
		{"§3.2 mode none without mx", "version: STSv1\nmode: none\nmax_age: 86400\n", &want{ModeNone, 86400, nil, nil}},
		{"§3.2 mode none with mx", "version: STSv1\nmode: none\nmx: mx.example.com\nmax_age: 0\n", &want{ModeNone, 0, []string{"mx.example.com"}, nil}},
		{"§3.2 field-delim: no space after colon", "version:STSv1\nmode:enforce\nmx:mx.example.com\nmax_age:5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 WSP after value", "version: STSv1 \nmode: enforce\t\nmx: mx.example.com \nmax_age: 5 \n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"choice: blank lines ignored", "\nversion: STSv1\n\n  \nmode: enforce\r\n\r\nmx: mx.example.com\nmax_age: 5\n\n", &want{ModeEnforce, 5, []string{"mx.example.com"},
			[]string{"version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: 5"}}},
		{"§3.2 field-delim is \":\" *WSP: WSP before the colon is no field", "version: STSv1\nmode : enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-field starts the line: no leading WSP", "version: STSv1\n mode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-ext-value: TAB inside a value", "version: STSv1\nmode: enforce\nnote: a\tb\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-ext-value: single spaces inside", "version: STSv1\nmode: enforce\nnote: a  b = c; d\nmx: mx.example.com\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 sts-policy-ext-value: TAB after field-delim and before the term", "version:\tSTSv1\t\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 sts-policy-ext-value: control character", "version: STSv1\nmode: enforce\nnote: a\x01b\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-ext-value: DEL", "version: STSv1\nmode: enforce\nnote: a\x7fb\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-ext-name: 32 characters", "version: STSv1\nmode: enforce\na2345678901234567890123456789012: x\nmx: mx.example.com\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 sts-policy-ext-name: 33 characters", "version: STSv1\nmode: enforce\na23456789012345678901234567890123: x\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-ext-name: leading -", "version: STSv1\nmode: enforce\n-x: y\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 duplicate: a malformed second mode line still makes the policy invalid", "version: STSv1\nmode: enforce\nmode:\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-term: CR at the end without LF", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\r", nil},
		{"§3.2 sts-policy-term: CR CR LF", "version: STSv1\r\r\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 sts-policy-term: mixed LF and CRLF", "version: STSv1\r\nmode: enforce\nmx: mx.example.com\r\nmax_age: 5", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 max_age 0 is valid", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0\n", &want{ModeEnforce, 0, []string{"mx.example.com"}, nil}},
		{"§3.2 UTF-8 BOM before the first key", "\ufeffversion: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 field order free", "mx: mx.example.com\nmax_age: 5\nmode: enforce\nversion: STSv1\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 max_age clamped to 31557600", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 9999999999\n", &want{ModeEnforce, MaxMaxAge, []string{"mx.example.com"}, nil}},
		{"§3.2 max_age exactly 31557600", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557600\n", &want{ModeEnforce, 31557600, []string{"mx.example.com"}, nil}},
		{"§3.2 max_age leading zeros, 10 digits", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0000000042\n", &want{ModeEnforce, 42, []string{"mx.example.com"}, nil}},
		{"§3.2 max_age 11 digits", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 00000000042\n", nil},
		{"§3.2 max_age negative", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: -1\n", nil},
		{"§3.2 max_age with unit", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400s\n", nil},
		{"§3.2 max_age plus sign", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: +5\n", nil},
		{"§3.2 max_age missing", "version: STSv1\nmode: enforce\nmx: mx.example.com\n", nil},
		{"§3.2 version missing", "mode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 version other", "version: STSv2\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 version case-sensitive", "version: stsv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 mode missing", "version: STSv1\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 mode unknown", "version: STSv1\nmode: report\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 mode case-sensitive", "version: STSv1\nmode: Enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 key case-sensitive: Mode is an unknown key", "version: STSv1\nMode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 5\n", nil},
		{"§3.2 testing without mx", "version: STSv1\nmode: testing\nmax_age: 5\n", nil},
		{"§3.2 unknown keys ignored", "version: STSv1\nmode: enforce\nfoo_bar: some value here\nmx: mx.example.com\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"§3.2 unknown key UTF-8 value", "version: STSv1\nmode: enforce\nnote: grüße\nmx: mx.example.com\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"conformance §4: first mode wins", "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", &want{ModeTesting, 5, []string{"mx.example.com"}, nil}},
		{"conformance §4: first max_age wins", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\nmax_age: 99999999999\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"conformance §4: first version wins", "version: STSv1\nversion: STSv2\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, nil}},
		{"conformance §4: first version wins, even if bad", "version: STSv2\nversion: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 line without colon", "version: STSv1\nmode: enforce\nmx mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 malformed key", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\nbad key: x\n", nil},
		{"§3.2 empty value", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\nfoo:\n", nil},
		{"§3.2 mx case folded", "version: STSv1\nmode: enforce\nmx: MX.Example.COM\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"mx.example.com"}, []string{"version: STSv1", "mode: enforce", "mx: MX.Example.COM", "max_age: 5"}}},
		{"§3.2 mx Domain (RFC 5321 §4.1.2) has no trailing dot", "version: STSv1\nmode: enforce\nmx: mx.example.com.\nmax_age: 5\n", nil},
		{"§3.2 mx wildcard over a single label", "version: STSv1\nmode: enforce\nmx: *.example\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"*.example"}, nil}},
		{"§3.2 mx label ending in hyphen", "version: STSv1\nmode: enforce\nmx: mx-.example.com\nmax_age: 5\n", nil},
		{"§3.2 mx empty label", "version: STSv1\nmode: enforce\nmx: mx..example.com\nmax_age: 5\n", nil},
		{"§3.2 mx A-label", "version: STSv1\nmode: enforce\nmx: xn--bcher-kva.example\nmax_age: 5\n", &want{ModeEnforce, 5, []string{"xn--bcher-kva.example"}, nil}},
		{"§3.2 mx U-label is invalid (MUST be A-label)", "version: STSv1\nmode: enforce\nmx: bücher.example\nmax_age: 5\n", nil},
		{"§3.2 mx wildcard not leftmost", "version: STSv1\nmode: enforce\nmx: mail.*.example.com\nmax_age: 5\n", nil},
		{"§3.2 mx partial wildcard", "version: STSv1\nmode: enforce\nmx: *mail.example.com\nmax_age: 5\n", nil},
		{"§3.2 mx bare wildcard", "version: STSv1\nmode: enforce\nmx: *\nmax_age: 5\n", nil},
		{"§3.2 mx IP address", "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 5\n", nil},
		{"§3.2 mx underscore", "version: STSv1\nmode: enforce\nmx: mx_1.example.com\nmax_age: 5\n", nil},
		{"§3.2 mx with port", "version: STSv1\nmode: enforce\nmx: mx.example.com:25\nmax_age: 5\n", nil},
		{"§3.2 mx two on one line", "version: STSv1\nmode: enforce\nmx: a.example.com b.example.com\nmax_age: 5\n", nil},
		{"§3.2 bad mx invalidates mode none too", "version: STSv1\nmode: none\nmx: -bad.example\nmax_age: 5\n", nil},
		{"§3.2 NUL byte", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\nfoo: a\x00b\n", nil},
		{"§3.2 bare CR inside a line", "version: STSv1\rmode: enforce\nmx: mx.example.com\nmax_age: 5\n", nil},
		{"§3.2 invalid UTF-8", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 5\nfoo: \xff\n", nil},
		{"empty body", "", nil},
		{"HTML error page", "<html><body>Not here</body></html>\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tc.body))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ParsePolicy = %+v, want error", p)
				}
				if !errors.Is(err, ErrInvalidPolicy) {
					t.Fatalf("error %v does not wrap ErrInvalidPolicy", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if p.Version != PolicyVersion || p.Mode != tc.want.mode || p.MaxAge != tc.want.maxAge || !reflect.DeepEqual(p.MX, tc.want.mx) {
				t.Fatalf("ParsePolicy = %+v, want %+v", p, tc.want)
			}
			if tc.want.lines != nil && !reflect.DeepEqual(p.Lines, tc.want.lines) {
				t.Fatalf("Lines = %q, want %q", p.Lines, tc.want.lines)
			}
		})
	}
}

// TestParsePolicyLinesForTLSRPT checks that Lines keeps every non-blank line as sent,
// unknown keys included, for the RFC 8460 §4.4 policy-string.
func TestParsePolicyLinesForTLSRPT(t *testing.T) {
	body := "version: STSv1\r\nmode: enforce\r\nx-note:  kept as is \r\nmx: *.example.com\r\nmax_age: 86400\r\n"
	p, err := ParsePolicy([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"version: STSv1", "mode: enforce", "x-note:  kept as is ", "mx: *.example.com", "max_age: 86400"}
	if !reflect.DeepEqual(p.Lines, want) {
		t.Fatalf("Lines = %q, want %q", p.Lines, want)
	}
	if got := strings.Join(p.Lines, "\r\n") + "\r\n"; got != body {
		t.Fatalf("Lines do not reassemble the body: %q", got)
	}
}
