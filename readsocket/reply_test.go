package readsocket

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/policy"
)

// RFC 8461 §4.1: "*.example.net" matches exactly one label in place of the asterisk.
func TestDomainPattern(t *testing.T) {
	cases := []struct {
		mx      string
		match   []string
		nomatch []string
	}{
		{mx: "mx1.example.com", match: []string{"mx1.example.com", "MX1.example.COM"}, nomatch: []string{"mx1xexample.com", "a.mx1.example.com", "mx1.example.com.evil"}},
		{mx: "MX1.Example.COM.", match: []string{"mx1.example.com"}},
		{mx: "*.mail.example.net", match: []string{"a.mail.example.net", "mx-2.mail.example.net"},
			nomatch: []string{"mail.example.net", "a.b.mail.example.net", "amail.example.net", "a.mail.example.net.evil", "a.mailxexample.net"}},
		{mx: "*.bad_name.example", match: nil, nomatch: []string{"a.bad_name.example", "x.y"}},
	}
	for _, c := range cases {
		line := Format(&policy.Decision{Result: policy.OK, Level: "secure", STS: policy.STSPolicy{Mode: "enforce", MX: []string{c.mx}}})
		_, got, _ := strings.Cut(line, " mx_regex=")
		got, _, _ = strings.Cut(got, " ")
		if strings.ContainsAny(got, " \t\\\";:") {
			t.Fatalf("%s → %q: white space, quote, backslash or separator", c.mx, got)
		}
		re := regexp.MustCompile(got)
		for _, h := range c.match {
			if !re.MatchString(h) {
				t.Errorf("%s → %q does not match %s", c.mx, got, h)
			}
		}
		for _, h := range c.nomatch {
			if re.MatchString(h) {
				t.Errorf("%s → %q matches %s", c.mx, got, h)
			}
		}
	}
}

// Every reply is one line of key=value pairs without white space inside a value, so that
// Exim's ${extract{key}{…}} reads each value back whole.
func TestFormat(t *testing.T) {
	exp := time.Unix(1767225600, 0)
	sts := policy.STSPolicy{Domain: "example.net", Mode: "enforce", MX: []string{"mx1.example.net", "*.mail.example.net"}}
	cases := []struct {
		d    policy.Decision
		want map[string]string
	}{
		{policy.Decision{Result: policy.OK, Level: "secure", Source: policy.SourceMTASTS, STS: sts, Expires: exp,
			Match: []string{"mx1.example.net", ".mail.example.net"}, Servername: "hostname"},
			map[string]string{"result": "OK", "level": "secure", "source": "mta-sts", "sts_mode": "enforce",
				"mx": "<;mx1.example.net;*.mail.example.net", "mx_regex": `(?i)^(mx1[.]example[.]net|[^.]+[.]mail[.]example[.]net)$`, "expires": "1767225600"}},
		{policy.Decision{Result: policy.OK, Level: "dane-only", Source: policy.SourceDANE},
			map[string]string{"result": "OK", "level": "dane-only", "source": "dane"}},
		{policy.Decision{Result: policy.OK, Level: "secure", Source: policy.SourceOverride, Match: []string{"mx.a.example", ".a.example"}},
			map[string]string{"result": "OK", "level": "secure", "source": "override", "match": "<;mx.a.example;.a.example"}},
		{policy.Decision{Result: policy.Temp, Source: policy.SourceDeadline, Message: "answer deadline passed: \"x\" = y\r\n"},
			map[string]string{"result": "TEMP", "source": "deadline", "message": "answer_deadline_passed:__x____y__"}},
		{policy.Decision{Result: policy.NotFound, Source: policy.SourceDefault},
			map[string]string{"result": "NOTFOUND", "source": "default"}},
	}
	for _, c := range cases {
		line := Format(&c.d)
		if strings.ContainsAny(line, "\n\r\"\\") {
			t.Fatalf("%q: newline, quote or backslash", line)
		}
		got := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok || got[k] != "" {
				t.Fatalf("%q: field %q", line, f)
			}
			got[k] = v
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: fields %v, want %v", line, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", line, k, got[k], v)
			}
		}
	}
}
