// Package check verifies a hosted domain's live MTA-STS state the way a sender sees it,
// with mailtls's own resolver code: the "_mta-sts" TXT record's id equals the id of the
// policy actually served (RFC 8461 §3.1), the policy fetched over HTTPS (§3.3) parses and
// matches the configuration, every current MX host matches a pattern (§4.1), the
// certificate is valid for mta-sts.<domain> and how long it has left, and, for a domain on
// its way out, when removing it becomes safe (§8.3). Each result is one Finding.
package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/hosting"
	"github.com/mailtls/mailtls/hosting/policyid"
	"github.com/mailtls/mailtls/mtasts"
)

// Severity of a finding.
type Severity string

// Severities: OK and Info are fine; Problem makes `mailtls hosting check` exit non-zero.
const (
	OK      Severity = "ok"
	Info    Severity = "info"
	Problem Severity = "problem"
)

// Finding is one result line.
type Finding struct {
	Domain   string   `json:"domain"`
	Severity Severity `json:"severity"`
	// Check names what was checked: config, txt, policy, id, mx, certificate, removal.
	Check   string `json:"check"`
	Message string `json:"message"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%-7s %s %s: %s", strings.ToUpper(string(f.Severity)), f.Domain, f.Check, f.Message)
}

// DefaultCertWarning is how close to expiry a certificate becomes a problem.
const DefaultCertWarning = 14 * 24 * time.Hour

// Checker checks hosted domains.
type Checker struct {
	Resolver dnsclient.Resolver
	// Fetcher fetches the policy with a sender's rules (RFC 8461 §3.3).
	Fetcher *mtasts.Fetcher
	// Dial connects to mta-sts.<domain>:443 for the certificate probe, through the same
	// resolver as the fetcher.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Roots verify the certificate; nil means the system roots.
	Roots *x509.CertPool
	// Builder computes the configured policy to compare with what is served.
	Builder *hosting.Builder
	// State, if set, tells when a removal is safe.
	State *hosting.State
	Now   func() time.Time
	// CertWarning: a certificate closer than this to expiry is a problem (default 14 days).
	CertWarning time.Duration
}

// Failed reports whether any finding is a problem.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Problem {
			return true
		}
	}
	return false
}

// Check checks one hosted domain.
func (c *Checker) Check(ctx context.Context, s hosting.Spec) []Finding {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	var out []Finding
	add := func(sev Severity, check, format string, args ...any) {
		out = append(out, Finding{Domain: s.Domain, Severity: sev, Check: check, Message: fmt.Sprintf(format, args...)})
	}

	want, _ := c.Builder.Build(ctx, s, nil, now)
	if want.Err != "" {
		add(Problem, "config", "cannot compute the configured policy: %s", want.Err)
		want = nil
	}

	var txtID string
	switch rl, err := mtasts.LookupRecord(ctx, c.Resolver, s.Domain); {
	case err != nil:
		add(Problem, "txt", "lookup failed: %v", err)
	case rl.Record == nil:
		add(Problem, "txt", "no usable _mta-sts.%s record: %s", s.Domain, rl.Reason)
	default:
		txtID = rl.Record.ID
	}

	var served *mtasts.Policy
	res, err := c.Fetcher.Fetch(ctx, s.Domain)
	if err != nil {
		add(Problem, "policy", "fetching %s failed: %v", mtasts.PolicyURL(s.Domain), err)
	} else {
		served = res.Policy
		id := policyid.Of(res.Body)
		switch {
		case txtID != "" && txtID != id:
			add(Problem, "id", "_mta-sts TXT has id %s but the served policy's id is %s: senders keep their cached policy; publish \"v=STSv1; id=%s\"", txtID, id, id)
		case txtID != "":
			add(OK, "id", "TXT id %s matches the served policy", id)
		}
		switch {
		case want != nil && !bytes.Equal(want.Body, res.Body):
			add(Problem, "policy", "the served policy (id %s) differs from the configured one (id %s): is the daemon running the current configuration?", id, want.ID)
		default:
			add(OK, "policy", "mode %s, max_age %d, mx %s served", res.Policy.Mode, res.Policy.MaxAge, strings.Join(res.Policy.MX, " "))
		}
	}

	enforced := served
	if enforced == nil && want != nil {
		enforced = &mtasts.Policy{Mode: want.Mode, MX: want.MX}
	}
	if enforced != nil && enforced.Mode != mtasts.ModeNone {
		c.checkMX(ctx, s.Domain, enforced, add)
	}
	c.checkCert(ctx, s.Domain, now, add)
	if s.Mode == mtasts.ModeNone || s.Retiring {
		c.checkRemoval(s, now, add)
	}
	return out
}

func (c *Checker) checkMX(ctx context.Context, domain string, p *mtasts.Policy, add func(Severity, string, string, ...any)) {
	hosts, _, err := hosting.CurrentMX(ctx, c.Resolver, domain)
	if err != nil {
		add(Problem, "mx", "%v", err)
		return
	}
	ok := true
	for _, h := range hosts {
		if !p.Match(h) {
			ok = false
			add(Problem, "mx", "MX host %s matches no mx pattern of the policy (%s): senders enforcing it will not deliver there (RFC 8461 §4.1)", h, strings.Join(p.MX, " "))
		}
	}
	if ok {
		add(OK, "mx", "every MX host (%s) matches the policy", strings.Join(hosts, " "))
	}
}

// checkCert connects to mta-sts.<domain>:443 and checks the certificate as a sender's
// WebPKI validation would, naming the precise fault.
func (c *Checker) checkCert(ctx context.Context, domain string, now time.Time, add func(Severity, string, string, ...any)) {
	name := "mta-sts." + domain
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := c.Dial(ctx, "tcp", net.JoinHostPort(name, "443"))
	if err != nil {
		add(Problem, "certificate", "policy host %s unreachable: %v", name, err)
		return
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) // verified below, to name the fault
	if err := conn.HandshakeContext(ctx); err != nil {
		add(Problem, "certificate", "TLS handshake with %s failed: %v", name, err)
		return
	}
	chain := conn.ConnectionState().PeerCertificates
	if len(chain) == 0 {
		add(Problem, "certificate", "%s sent no certificate", name)
		return
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	left := leaf.NotAfter.Sub(now)
	switch {
	case now.After(leaf.NotAfter):
		add(Problem, "certificate", "certificate for %s expired at %s", name, leaf.NotAfter.UTC().Format(time.RFC3339))
		return
	case now.Before(leaf.NotBefore):
		add(Problem, "certificate", "certificate for %s is not valid before %s", name, leaf.NotBefore.UTC().Format(time.RFC3339))
		return
	}
	if err := leaf.VerifyHostname(name); err != nil {
		add(Problem, "certificate", "certificate is for %s, not %s", strings.Join(leaf.DNSNames, ", "), name)
		return
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.Roots, Intermediates: inter, DNSName: name, CurrentTime: now}); err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(err, &ua) {
			add(Problem, "certificate", "certificate for %s is not from a trusted CA: %v", name, err)
		} else {
			add(Problem, "certificate", "certificate for %s does not validate: %v", name, err)
		}
		return
	}
	warn := c.CertWarning
	if warn == 0 {
		warn = DefaultCertWarning
	}
	days := int(left.Hours() / 24)
	if left < warn {
		add(Problem, "certificate", "certificate for %s expires in %s (%s): renewal is overdue", name, left.Round(time.Minute), leaf.NotAfter.UTC().Format(time.RFC3339))
		return
	}
	add(OK, "certificate", "valid for %s until %s (%d days left)", name, leaf.NotAfter.UTC().Format(time.RFC3339), days)
}

func (c *Checker) checkRemoval(s hosting.Spec, now time.Time, add func(Severity, string, string, ...any)) {
	if c.State == nil {
		add(Info, "removal", "no hosting state available: cannot tell when removal is safe")
		return
	}
	ds, ok := c.State.Get(s.Domain)
	switch {
	case !ok:
		add(Info, "removal", "not served yet by this host: nothing to wait for")
	case ds.Mode != mtasts.ModeNone:
		add(Info, "removal", "mode none is configured but the host still serves mode %s: reload the daemon, then publish the new id", ds.Mode)
	case ds.RemovalSafe(now):
		add(Info, "removal", "safe now: senders' cached policies have expired; delete the _mta-sts TXT and mta-sts records, then the domain from hosting (RFC 8461 §8.3)")
	default:
		add(Info, "removal", "safe after %s (mode none served since %s with id %s; earlier policies may be cached until then, RFC 8461 §8.3)",
			ds.SafeAfter.UTC().Format(time.RFC3339), ds.Since.UTC().Format(time.RFC3339), ds.ID)
	}
}
