package config

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mailtls/mailtls/internal/dnsname"
)

// TLSRPTReceiver is inbound TLS reporting (RFC 8460): the reports other senders send
// about the operator's domains, over HTTPS or by mail (README "TLS reports you
// receive"). Off unless Enabled.
type TLSRPTReceiver struct {
	Enabled bool `yaml:"enabled"`
	// Listen is an HTTPS listener of its own, "host:port", with CertFile and KeyFile.
	// "" serves the endpoint on the policy host's listener when hosting is on (the
	// report URI's host must then be a hosted mta-sts name), and no HTTPS endpoint
	// otherwise (mail ingestion still works).
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// URLPath is the path reports are POSTed to (the https: rua's path).
	URLPath string `yaml:"url_path"`
	// Path is the received-report database; "" means tlsrpt-received.db in the state
	// directory.
	Path string `yaml:"path"`
	// Domains are the policy domains reports are accepted for; empty means the hosted
	// domains when hosting is on, and any domain otherwise.
	Domains []string `yaml:"domains"`
	// Size and count limits of one report.
	MaxCompressed     int64 `yaml:"max_compressed"`
	MaxDecompressed   int64 `yaml:"max_decompressed"`
	MaxPolicies       int   `yaml:"max_policies"`
	MaxFailureDetails int   `yaml:"max_failure_details"`
	// RateLimit is the reports one client may POST per hour (an IPv4 address, or an IPv6
	// /64); 0 = no limit.
	RateLimit int `yaml:"rate_limit"`
	// RateLimitTotal is the reports all clients together may POST per hour; 0 = no limit.
	RateLimitTotal int `yaml:"rate_limit_total"`
	// AlertFailureRate (0..1) raises an alert when a domain's failed sessions in a UTC
	// day reach this share (0 = off), once the day has AlertMinSessions sessions.
	AlertFailureRate float64 `yaml:"alert_failure_rate"`
	AlertMinSessions int64   `yaml:"alert_min_sessions"`
	// KeepFor is how long received reports are kept (by their day); the daemon prunes
	// older ones daily. 0 keeps them forever.
	KeepFor Duration `yaml:"keep_for"`
	// DNSTimeout bounds the DKIM key lookups of `mailtls tlsrpt ingest`.
	DNSTimeout Duration `yaml:"dns_timeout"`
}

// TLSRPTReceivedPath is the received-report database file.
func (c *Config) TLSRPTReceivedPath() string {
	if c.TLSRPTReceiver.Path != "" {
		return c.TLSRPTReceiver.Path
	}
	return filepath.Join(c.StateDirPath(), "tlsrpt-received.db")
}

// ReceiverDomains are the policy domains reports are accepted for (nil: any).
func (c *Config) ReceiverDomains() []string {
	if len(c.TLSRPTReceiver.Domains) > 0 {
		out := make([]string, 0, len(c.TLSRPTReceiver.Domains))
		for _, d := range c.TLSRPTReceiver.Domains {
			out = append(out, strings.ToLower(strings.TrimSuffix(d, ".")))
		}
		return out
	}
	var out []string
	for _, d := range c.Hosting.Domains {
		out = append(out, strings.ToLower(d.Domain))
	}
	return out
}

func (c *Config) validateTLSRPTReceiver(bad func(path, format string, args ...any)) {
	r := &c.TLSRPTReceiver
	if r.Listen != "" {
		if _, _, err := net.SplitHostPort(r.Listen); err != nil {
			bad("tlsrpt_receiver.listen", "%q is not host:port", r.Listen)
		}
		if r.Enabled && (r.CertFile == "" || r.KeyFile == "") {
			bad("tlsrpt_receiver.listen", "an own listener needs cert_file and key_file")
		}
	}
	for _, f := range []struct{ path, v string }{{"tlsrpt_receiver.cert_file", r.CertFile}, {"tlsrpt_receiver.key_file", r.KeyFile}} {
		if f.v != "" && r.Enabled {
			if _, err := os.Stat(f.v); err != nil {
				bad(f.path, "%v", err)
			}
		}
	}
	if !strings.HasPrefix(r.URLPath, "/") {
		bad("tlsrpt_receiver.url_path", "%q must start with /", r.URLPath)
	}
	for i, d := range r.Domains {
		if !dnsname.Valid(strings.TrimSuffix(d, ".")) {
			bad("tlsrpt_receiver.domains."+strconv.Itoa(i), "%q is not a domain name", d)
		}
	}
	if r.MaxCompressed < 1024 || r.MaxCompressed > 64<<20 {
		bad("tlsrpt_receiver.max_compressed", "must be between 1024 and 67108864 bytes")
	}
	if r.MaxDecompressed < r.MaxCompressed || r.MaxDecompressed > 256<<20 {
		bad("tlsrpt_receiver.max_decompressed", "must be between max_compressed and 268435456 bytes")
	}
	if r.MaxPolicies < 1 || r.MaxPolicies > 100000 {
		bad("tlsrpt_receiver.max_policies", "must be between 1 and 100000")
	}
	if r.MaxFailureDetails < 1 || r.MaxFailureDetails > 100000 {
		bad("tlsrpt_receiver.max_failure_details", "must be between 1 and 100000")
	}
	if r.RateLimit < 0 {
		bad("tlsrpt_receiver.rate_limit", "must not be negative")
	}
	if r.RateLimitTotal < 0 {
		bad("tlsrpt_receiver.rate_limit_total", "must not be negative")
	}
	if r.AlertFailureRate < 0 || r.AlertFailureRate > 1 {
		bad("tlsrpt_receiver.alert_failure_rate", "must be between 0 and 1")
	}
	if r.AlertMinSessions < 0 {
		bad("tlsrpt_receiver.alert_min_sessions", "must not be negative")
	}
	if r.KeepFor.D() != 0 && r.KeepFor.D() < 48*time.Hour {
		bad("tlsrpt_receiver.keep_for", "must be 0 (forever) or at least 48h")
	}
	if r.DNSTimeout.D() < 0 || r.DNSTimeout.D() > 5*time.Minute {
		bad("tlsrpt_receiver.dns_timeout", "must be between 0 and 5m")
	}
}
