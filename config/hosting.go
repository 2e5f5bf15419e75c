package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mailtls/mailtls/internal/dnsname"
)

// Hosting is the MTA-STS policy host (RFC 8461 §3.3 seen from the receiving side): mailtls
// serves https://mta-sts.<domain>/.well-known/mta-sts.txt for every listed domain, with
// certificates from an ACME CA or from files. Off while Domains is empty.
type Hosting struct {
	// Listen is the HTTPS listener, "host:port" (default ":443": senders connect to 443).
	Listen string `yaml:"listen"`
	// HTTPListen is an optional plain-HTTP listener (":80") that answers only ACME HTTP-01
	// challenges; "" leaves HTTP-01 off (TLS-ALPN-01 on Listen still works).
	HTTPListen string `yaml:"http_listen"`
	// MaxConnections caps concurrent connections on each listener.
	MaxConnections int `yaml:"max_connections"`
	// Address lists the IP addresses `mailtls hosting records` publishes for the
	// mta-sts.<domain> names; CNAME publishes a CNAME to this host name instead.
	Address []string `yaml:"address"`
	CNAME   string   `yaml:"cname"`
	// TLSRPT is the rua of the _smtp._tls record `mailtls hosting records` prints
	// (RFC 8460 §3), e.g. "mailto:tlsrpt@example.net"; "" prints none.
	TLSRPT string `yaml:"tlsrpt_rua"`
	// ACME obtains certificates for hosted names that have no certificate files.
	ACME HostingACME `yaml:"acme"`
	// Defaults apply to every domain that does not set the field itself.
	Defaults HostedPolicy `yaml:"defaults"`
	// Domains are the hosted policy domains.
	Domains []HostedDomain `yaml:"domains"`
}

// HostingACME configures certificates from an RFC 8555 CA.
type HostingACME struct {
	// Directory is the CA's directory URL.
	Directory string `yaml:"directory"`
	// Contact is an e-mail address given to the CA for expiry notices ("" for none).
	Contact string `yaml:"contact"`
	// EAB is the External Account Binding some CAs require (RFC 8555 §7.3.4).
	EAB HostingEAB `yaml:"eab"`
	// CAFile is a PEM bundle trusted for the directory's HTTPS (a private CA); "" uses the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// RenewBefore renews a certificate this long before it expires (at most 720h).
	RenewBefore Duration `yaml:"renew_before"`
}

// HostingEAB is the key identifier and base64url MAC key a CA hands out for binding.
type HostingEAB struct {
	KID     string `yaml:"kid"`
	HMACKey string `yaml:"hmac_key"`
}

// MACKey decodes HMACKey (base64url, padding optional).
func (e HostingEAB) MACKey() ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(e.HMACKey, "="))
}

// HostedPolicy is what a domain's policy says (RFC 8461 §3.2). Empty fields take the
// hosting defaults.
type HostedPolicy struct {
	Mode string `yaml:"mode"` // enforce, testing or none
	// MX is "auto" (the domain's current MX host names, re-read on their TTL) or a list of
	// patterns ("mx1.example.com", "*.example.net").
	MX MXSpec `yaml:"mx"`
	// MaxAge is the policy lifetime in seconds (RFC 8461 §3.2: at most 31557600).
	MaxAge uint32 `yaml:"max_age"`
}

// MXSpec is "auto" or an explicit list of mx patterns.
type MXSpec struct {
	Auto     bool
	Patterns []string
}

// IsSet reports whether the spec says anything.
func (m MXSpec) IsSet() bool { return m.Auto || len(m.Patterns) > 0 }

// String is "auto" or the patterns joined by commas.
func (m MXSpec) String() string {
	if m.Auto {
		return "auto"
	}
	return strings.Join(m.Patterns, ",")
}

// UnmarshalYAML accepts the scalar "auto" or a sequence of patterns.
func (m *MXSpec) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "auto" {
			return lineError(n, fmt.Sprintf("mx must be \"auto\" or a list of patterns, not %q", n.Value))
		}
		*m = MXSpec{Auto: true}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return lineError(n, "mx must be a list of host name patterns")
		}
		*m = MXSpec{Patterns: list}
		return nil
	}
	return lineError(n, "mx must be \"auto\" or a list of patterns")
}

// HostedDomain is one hosted policy domain.
type HostedDomain struct {
	Domain       string `yaml:"domain"`
	HostedPolicy `yaml:",inline"`
	// Upstream, when set, is an https URL whose MTA-STS policy is mirrored (fetched with a
	// sender's rules and served as is) instead of a policy built from the fields above.
	Upstream string `yaml:"upstream"`
	// CertFile and KeyFile are a PEM certificate chain and key for mta-sts.<domain>,
	// reloaded on SIGHUP; without them the certificate comes from ACME.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Effective returns d's policy fields with the hosting defaults filled in.
func (h *Hosting) Effective(d HostedDomain) HostedPolicy {
	p := d.HostedPolicy
	if p.Mode == "" {
		p.Mode = h.Defaults.Mode
	}
	if !p.MX.IsSet() {
		p.MX = h.Defaults.MX
	}
	if p.MaxAge == 0 {
		p.MaxAge = h.Defaults.MaxAge
	}
	return p
}

// Enabled reports whether any domain is hosted.
func (h *Hosting) Enabled() bool { return len(h.Domains) > 0 }

// maxPolicyAge is RFC 8461 §3.2's upper bound for max_age.
const maxPolicyAge = 31557600

// validateHosting checks the hosting section.
func (c *Config) validateHosting(bad func(path, format string, args ...any)) {
	h := &c.Hosting
	hostPort := func(path, v string, required bool) {
		if v == "" && !required {
			return
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			bad(path, "%q is not host:port", v)
		}
	}
	hostPort("hosting.listen", h.Listen, h.Enabled())
	hostPort("hosting.http_listen", h.HTTPListen, false)
	if h.MaxConnections < 1 {
		bad("hosting.max_connections", "must be at least 1")
	}
	for i, a := range h.Address {
		if _, err := netip.ParseAddr(a); err != nil {
			bad(fmt.Sprintf("hosting.address.%d", i), "%q is not an IP address", a)
		}
	}
	if h.CNAME != "" && !dnsname.Valid(strings.TrimSuffix(h.CNAME, ".")) {
		bad("hosting.cname", "%q is not a host name", h.CNAME)
	}
	if h.CNAME != "" && len(h.Address) > 0 {
		bad("hosting.cname", "give address or cname, not both")
	}
	if h.TLSRPT != "" && !strings.HasPrefix(h.TLSRPT, "mailto:") && !strings.HasPrefix(h.TLSRPT, "https:") {
		bad("hosting.tlsrpt_rua", "%q is not a mailto: or https: URI (RFC 8460 §3)", h.TLSRPT)
	}
	if u, err := url.Parse(h.ACME.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("hosting.acme.directory", "%q is not an https URL", h.ACME.Directory)
	}
	if (h.ACME.EAB.KID == "") != (h.ACME.EAB.HMACKey == "") {
		bad("hosting.acme.eab", "give both kid and hmac_key, or neither")
	} else if h.ACME.EAB.KID != "" {
		if k, err := h.ACME.EAB.MACKey(); err != nil || len(k) == 0 {
			bad("hosting.acme.eab.hmac_key", "not base64url: %v", err)
		}
	}
	if h.ACME.CAFile != "" {
		if _, err := os.Stat(h.ACME.CAFile); err != nil {
			bad("hosting.acme.ca_file", "%v", err)
		}
	}
	if h.ACME.RenewBefore.D() <= 0 || h.ACME.RenewBefore.D() > 720*time.Hour {
		bad("hosting.acme.renew_before", "%s is outside 0s..720h", h.ACME.RenewBefore)
	}
	c.validateHostedPolicy("hosting.defaults", h.Defaults, true, bad)
	seen := map[string]bool{}
	for i, d := range h.Domains {
		p := fmt.Sprintf("hosting.domains.%d", i)
		switch {
		case d.Domain != strings.ToLower(d.Domain) || !dnsname.Valid(d.Domain):
			bad(p+".domain", "%q is not a lower-case A-label domain name without trailing dot", d.Domain)
		case seen[d.Domain]:
			bad(p+".domain", "%s is listed twice", d.Domain)
		}
		seen[d.Domain] = true
		if d.Upstream != "" {
			if u, err := url.Parse(d.Upstream); err != nil || u.Scheme != "https" || u.Host == "" {
				bad(p+".upstream", "%q is not an https URL", d.Upstream)
			}
			if d.Mode != "" || d.MX.IsSet() || d.MaxAge != 0 {
				bad(p, "a mirrored domain (upstream) takes mode, mx and max_age from the upstream policy")
			}
		}
		c.validateHostedPolicy(p, d.HostedPolicy, false, bad)
		switch {
		case (d.CertFile == "") != (d.KeyFile == ""):
			bad(p, "give both cert_file and key_file, or neither")
		case d.CertFile != "":
			for _, f := range []string{d.CertFile, d.KeyFile} {
				if _, err := os.Stat(f); err != nil {
					bad(p, "%v", err)
				}
			}
		}
	}
}

func (c *Config) validateHostedPolicy(path string, p HostedPolicy, required bool, bad func(path, format string, args ...any)) {
	switch p.Mode {
	case "enforce", "testing", "none":
	case "":
		if required {
			bad(path+".mode", "is required (enforce, testing or none)")
		}
	default:
		bad(path+".mode", "%q is not one of enforce, testing, none", p.Mode)
	}
	if required && !p.MX.IsSet() {
		bad(path+".mx", "is required (auto or a list of patterns)")
	}
	for i, m := range p.MX.Patterns {
		host := strings.TrimPrefix(strings.ToLower(m), "*.")
		if !dnsname.Valid(host) {
			bad(fmt.Sprintf("%s.mx.%d", path, i), "%q is not a host name or *. wildcard in A-label form (RFC 8461 §3.2)", m)
		}
	}
	if p.MaxAge > maxPolicyAge {
		bad(path+".max_age", "%d is above %d (RFC 8461 §3.2)", p.MaxAge, maxPolicyAge)
	}
	if required && p.MaxAge == 0 {
		bad(path+".max_age", "is required (seconds, e.g. 604800)")
	}
}
