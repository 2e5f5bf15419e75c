package config

import (
	"strings"
	"testing"
	"time"
)

func TestTLSRPTSection(t *testing.T) {
	c, err := Parse([]byte("tlsrpt:\n  enabled: true\n  socket: /var/spool/postfix/run/tlsrpt/tlsrpt.sock\n  group: postfix\n  mode: \"0620\"\n"+
		"  organization: Example\n  contact: mailto:pm@example.net\n  submitter: example.net\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := c.TLSRPT.SocketMode(); m != 0o620 || c.TLSRPT.RetryFor.D() != 48*time.Hour || c.TLSRPT.SMTPRelay != "localhost:25" {
		t.Fatalf("%+v", c.TLSRPT)
	}
	for in, want := range map[string]string{
		"tlsrpt:\n  enabled: true\n":           "tlsrpt.organization",
		"tlsrpt:\n  retry_for: 2h\n":           "tlsrpt.retry_for",
		"tlsrpt:\n  mode: \"999\"\n":           "tlsrpt.mode",
		"tlsrpt:\n  socket: run/tlsrpt.sock\n": "tlsrpt.socket",
		"tlsrpt:\n  smtp_relay: localhost\n":   "tlsrpt.smtp_relay",
		"tlsrpt:\n  enabled: true\n  organization: x\n  contact: y\n  submitter: \"not a domain\"\n": "tlsrpt.submitter",
	} {
		_, err := Parse([]byte(in), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error on %s", in, err, want)
		}
	}
}
