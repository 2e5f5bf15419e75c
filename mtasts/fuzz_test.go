package mtasts

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRecord checks that ParseRecord never panics and that what it accepts obeys
// RFC 8461 §3.1: the record begins with v=STSv1, id is 1–32 alphanumerics, extensions are
// well-formed, and LookupRecord would have kept the record as a candidate.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=STSv1; id=20160831085700Z;",
		"v=STSv1;id=abc",
		"v=STSv1 ; id=abc ; ext=v:1;",
		"v=STSv1; id=first; id=second",
		"v=STSv1;",
		"v=STSv1",
		"v=STSv1;; id=a",
		"v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456",
		"v=spf1 -all",
		"",
		";;;",
		"v=STSv1; id=a; \x00=\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		rec, err := ParseRecord(txt)
		if err != nil {
			if rec != nil {
				t.Fatalf("record %+v returned with error %v", rec, err)
			}
			return
		}
		if !strings.HasPrefix(txt, RecordVersion) || !isCandidate(txt) {
			t.Fatalf("accepted %q, which is not an STS candidate", txt)
		}
		if !validID(rec.ID) {
			t.Fatalf("accepted %q with id %q", txt, rec.ID)
		}
		for _, e := range rec.Extensions {
			if !validExtName(e[0]) || !validRecordExtValue(e[1]) {
				t.Fatalf("accepted %q with extension %q", txt, e)
			}
		}
	})
}

// FuzzParsePolicy checks that ParsePolicy never panics and that every accepted policy is
// consistent with RFC 8461 §3.2: version STSv1, a known mode, max_age clamped, at least
// one valid mx unless mode none, and Lines free of line terminators. It also checks that
// re-parsing the accepted lines gives the same policy.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		validBody,
		"version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n",
		"version: STSv1\nmode: none\nmax_age: 0\n",
		"version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 99999999999\r\n",
		"version: STSv1\nmode: enforce\nmode: none\nmx: MX.EXAMPLE.COM.\nmax_age: 9999999999\n",
		"version: STSv1\nmode: enforce\nmx: xn--bcher-kva.example\nnote: grüße\nmax_age: 5",
		"\n\n  \nversion:STSv1\nmode:none\nmax_age:1\n",
		"version: STSv1\nmode: enforce\nmx: bücher.example\nmax_age: 5\n",
		"version: STSv1\x00\nmode: enforce\n",
		"<html></html>",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			if p != nil {
				t.Fatalf("policy %+v returned with error %v", p, err)
			}
			return
		}
		if p.Version != PolicyVersion {
			t.Fatalf("version %q", p.Version)
		}
		switch p.Mode {
		case ModeEnforce, ModeTesting, ModeNone:
		default:
			t.Fatalf("mode %q", p.Mode)
		}
		if p.MaxAge > MaxMaxAge {
			t.Fatalf("max_age %d above %d", p.MaxAge, MaxMaxAge)
		}
		if len(p.MX) == 0 && p.Mode != ModeNone {
			t.Fatalf("mode %s without mx", p.Mode)
		}
		for _, mx := range p.MX {
			if !validHostname(strings.TrimPrefix(mx, "*.")) || mx != strings.ToLower(mx) {
				t.Fatalf("mx %q is not a lower-case host name or wildcard", mx)
			}
			if !strings.HasPrefix(mx, "*.") && !MatchMX(mx, mx) {
				t.Fatalf("mx %q does not match itself", mx)
			}
		}
		for _, l := range p.Lines {
			if strings.ContainsAny(l, "\r\n") || strings.TrimSpace(l) == "" || !utf8.ValidString(l) {
				t.Fatalf("line %q", l)
			}
		}
		again, err := ParsePolicy([]byte(strings.Join(p.Lines, "\r\n")))
		if err != nil {
			t.Fatalf("re-parsing the accepted lines failed: %v", err)
		}
		if again.Mode != p.Mode || again.MaxAge != p.MaxAge || strings.Join(again.MX, " ") != strings.Join(p.MX, " ") {
			t.Fatalf("re-parse gave %+v, first parse %+v", again, p)
		}
	})
}
