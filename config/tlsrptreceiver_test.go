package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTLSRPTReceiverSection(t *testing.T) {
	c, err := Parse([]byte("state_dir: /var/lib/x\ntlsrpt_receiver:\n  enabled: true\n  domains: [Example.ORG.]\n  rate_limit: 30\n  rate_limit_total: 500\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := c.TLSRPTReceiver
	if r.URLPath != "/tlsrpt" || r.MaxCompressed != 1<<20 || r.MaxDecompressed != 8<<20 || r.MaxPolicies != 1000 ||
		r.AlertFailureRate != 0.05 || r.DNSTimeout.D() != 10*time.Second || r.KeepFor.D() != 8760*time.Hour || r.RateLimit != 30 || r.RateLimitTotal != 500 {
		t.Fatalf("defaults not applied: %+v", r)
	}
	if !slices.Equal(c.ReceiverDomains(), []string{"example.org"}) {
		t.Fatalf("domains %v", c.ReceiverDomains())
	}
	if c.TLSRPTReceivedPath() != filepath.Join(c.StateDirPath(), "tlsrpt-received.db") {
		t.Fatalf("path %s", c.TLSRPTReceivedPath())
	}
	for in, want := range map[string]string{
		"tlsrpt_receiver:\n  url_path: tlsrpt\n":                         "tlsrpt_receiver.url_path",
		"tlsrpt_receiver:\n  enabled: true\n  listen: \":8443\"\n":       "tlsrpt_receiver.listen",
		"tlsrpt_receiver:\n  listen: nope\n":                             "tlsrpt_receiver.listen",
		"tlsrpt_receiver:\n  max_compressed: 10\n":                       "tlsrpt_receiver.max_compressed",
		"tlsrpt_receiver:\n  max_decompressed: 2048\n":                   "tlsrpt_receiver.max_decompressed",
		"tlsrpt_receiver:\n  max_policies: 0\n":                          "tlsrpt_receiver.max_policies",
		"tlsrpt_receiver:\n  alert_failure_rate: 2\n":                    "tlsrpt_receiver.alert_failure_rate",
		"tlsrpt_receiver:\n  domains: [\"not a domain\"]\n":              "tlsrpt_receiver.domains.0",
		"tlsrpt_receiver:\n  rate_limit: -1\n":                           "tlsrpt_receiver.rate_limit",
		"tlsrpt_receiver:\n  rate_limit_total: -1\n":                     "tlsrpt_receiver.rate_limit_total",
		"tlsrpt_receiver:\n  enabled: true\n  cert_file: /nonexistent\n": "tlsrpt_receiver.cert_file",
	} {
		_, err := Parse([]byte(in), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error on %s", in, err, want)
		}
	}
}
