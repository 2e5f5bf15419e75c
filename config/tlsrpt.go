package config

import (
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mailtls/mailtls/internal/dnsname"
)

// TLSRPT is outbound TLS reporting (RFC 8460): collecting Postfix's TLS results and
// sending the daily reports recipient domains ask for (README "TLS reports you send").
// Off unless Enabled.
type TLSRPT struct {
	Enabled bool `yaml:"enabled"`
	// Socket is the Unix datagram socket Postfix's smtp_tlsrpt_socket_name names (an
	// absolute path, e.g. /var/spool/postfix/run/tlsrpt/tlsrpt.sock); "" collects only the
	// resolver's own MTA-STS observations (Postfix ≤ 3.9).
	Socket string `yaml:"socket"`
	Owner  string `yaml:"owner"` // socket owner (name or uid); "" the daemon's
	Group  string `yaml:"group"` // socket group (name or gid), e.g. postdrop or postfix
	Mode   string `yaml:"mode"`  // octal, default "0660"
	// Path is the reporting database; "" means tlsrpt.db in the state directory.
	Path string `yaml:"path"`
	// Organization and Contact fill organization-name and contact-info (RFC 8460 §4.4);
	// Submitter is the reporting domain (TLS-Report-Submitter, DKIM d=, report-id suffix).
	Organization string `yaml:"organization"`
	Contact      string `yaml:"contact"`
	Submitter    string `yaml:"submitter"`
	// From is the sender address of mailed reports (an address in Submitter's domain).
	From string `yaml:"from"`
	// SMTPRelay receives mailed reports, "host:port" (default the local Postfix).
	SMTPRelay string `yaml:"smtp_relay"`
	// DKIMKey is a PEM private key (RSA ≥ 1024 bits or Ed25519) published at
	// DKIMSelector._domainkey.Submitter; without it mailto: destinations are not sent to.
	DKIMKey      string `yaml:"dkim_key"`
	DKIMSelector string `yaml:"dkim_selector"`
	// BuildDelay after UTC midnight the day's reports are built; Window spreads their
	// first delivery; RetryFor (at least 24h) bounds retries; KeepFor prunes old reports.
	BuildDelay Duration `yaml:"build_delay"`
	Window     Duration `yaml:"window"`
	RetryFor   Duration `yaml:"retry_for"`
	KeepFor    Duration `yaml:"keep_for"`
}

// TLSRPTPath is the reporting database file.
func (c *Config) TLSRPTPath() string {
	if c.TLSRPT.Path != "" {
		return c.TLSRPT.Path
	}
	return filepath.Join(c.StateDirPath(), "tlsrpt.db")
}

// SocketMode parses Mode (default 0660).
func (t TLSRPT) SocketMode() (os.FileMode, error) {
	return Listener{Mode: t.Mode}.FileMode()
}

func (c *Config) validateTLSRPT(bad func(path, format string, args ...any)) {
	t := &c.TLSRPT
	if _, err := t.SocketMode(); err != nil {
		bad("tlsrpt.mode", "%q is not an octal mode like \"0660\"", t.Mode)
	}
	if t.Socket != "" && !filepath.IsAbs(t.Socket) {
		bad("tlsrpt.socket", "%q must be an absolute path", t.Socket)
	}
	for _, id := range []struct{ path, v string }{{"tlsrpt.owner", t.Owner}, {"tlsrpt.group", t.Group}} {
		if _, err := strconv.Atoi(id.v); id.v != "" && err != nil && !validName(id.v) {
			bad(id.path, "%q is not a user/group name or number", id.v)
		}
	}
	if t.RetryFor.D() != 0 && t.RetryFor.D() < 24*time.Hour {
		bad("tlsrpt.retry_for", "must be at least 24h (reports are retried for at least a day)")
	}
	if t.Window.D() < 0 || t.Window.D() > 20*time.Hour {
		bad("tlsrpt.window", "must be between 0 and 20h")
	}
	if t.BuildDelay.D() < 0 || t.BuildDelay.D() > 2*time.Hour {
		bad("tlsrpt.build_delay", "must be between 0 and 2h")
	}
	if t.SMTPRelay != "" {
		if _, _, err := net.SplitHostPort(t.SMTPRelay); err != nil {
			bad("tlsrpt.smtp_relay", "%q is not host:port", t.SMTPRelay)
		}
	}
	if !t.Enabled {
		return
	}
	if t.Organization == "" {
		bad("tlsrpt.organization", "required when tlsrpt is enabled (RFC 8460 §4.4 organization-name)")
	}
	if t.Contact == "" {
		bad("tlsrpt.contact", "required when tlsrpt is enabled (RFC 8460 §4.4 contact-info)")
	}
	if !dnsname.Valid(t.Submitter) {
		bad("tlsrpt.submitter", "%q is not a domain name", t.Submitter)
	}
	if t.From != "" {
		if _, err := mail.ParseAddress(t.From); err != nil {
			bad("tlsrpt.from", "%q is not a mail address", t.From)
		}
	}
	if t.DKIMKey != "" {
		if !dnsname.Valid(t.DKIMSelector) {
			bad("tlsrpt.dkim_selector", "%q is not a selector (a DNS label)", t.DKIMSelector)
		}
		if _, err := os.Stat(t.DKIMKey); err != nil {
			bad("tlsrpt.dkim_key", "%v", err)
		}
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
