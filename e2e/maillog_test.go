package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// attempt is one delivery attempt of a message as the sending Postfix logged it.
type attempt struct {
	Status string // sent, deferred, bounced
	Relay  string // e.g. mx.enforce.sts.test[127.0.2.1]:25
	Reason string // the parenthesised text after the status
	TLS    string // the smtp process's "... TLS connection established to ..." line for it, or ""
	Line   string
}

// parseAttempts finds the delivery attempts of message id in log text, in order.
func parseAttempts(text, id string) []attempt {
	// Log line: "<date> <host> <syslog_name>/<service>[<pid>]: <text>".
	logLineRE := regexp.MustCompile(`\s(\S+/[\w-]+)\[(\d+)\]: (.*)$`)
	statusRE := regexp.MustCompile(`^([0-9A-Za-z]+): to=<[^>]*>, relay=([^,]+), .*status=(\w+) \((.*)\)$`)
	type line struct{ proc, msg string }
	var lines []line
	for _, l := range strings.Split(text, "\n") {
		if m := logLineRE.FindStringSubmatch(l); m != nil {
			lines = append(lines, line{m[1] + "[" + m[2] + "]", m[3]})
		}
	}
	var out []attempt
	for i, l := range lines {
		m := statusRE.FindStringSubmatch(l.msg)
		if m == nil || m[1] != id {
			continue
		}
		a := attempt{Relay: m[2], Status: m[3], Reason: m[4], Line: l.msg}
		// The TLS line comes from the same smtp process before this status line and after
		// its previous delivery.
		for j := i - 1; j >= 0; j-- {
			if lines[j].proc != l.proc {
				continue
			}
			if statusRE.MatchString(lines[j].msg) {
				break
			}
			if strings.Contains(lines[j].msg, "TLS connection established to") {
				a.TLS = lines[j].msg
				break
			}
		}
		out = append(out, a)
	}
	return out
}

// waitAttempt waits (bounded) for the first delivery attempt of id logged after mark.
func (p *postfix) waitAttempt(t *testing.T, id string, mark int64) attempt {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		text, err := p.readLog(mark)
		if err == nil {
			if as := parseAttempts(text, id); len(as) > 0 {
				t.Logf("%s: %s", p.name, as[0].Line)
				if as[0].TLS != "" {
					t.Logf("%s: %s", p.name, as[0].TLS)
				}
				return as[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no delivery attempt of %s logged within 60 s", p.name, id)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// logHas reports whether the log after mark contains s.
func (p *postfix) logHas(mark int64, s string) bool {
	text, err := p.readLog(mark)
	return err == nil && strings.Contains(text, s)
}
