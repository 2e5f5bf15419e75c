package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// Files are a certificate chain and its key, PEM, for one policy host name.
type Files struct {
	Cert, Key string
}

// SetStatic loads the certificate files for each name (mta-sts.<domain>) and installs
// them all at once; on any error nothing changes (a SIGHUP with a broken file keeps the
// certificates being served). A certificate that does not cover its name or has expired
// is refused: serving it would only make senders fail the fetch (sts-webpki-invalid).
func (m *Manager) SetStatic(files map[string]Files, now time.Time) error {
	next := make(map[string]*tls.Certificate, len(files))
	for name, f := range files {
		c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return fmt.Errorf("certificate for %s: %w", name, err)
		}
		leaf := c.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return fmt.Errorf("certificate for %s: %w", name, err)
			}
		}
		if err := leaf.VerifyHostname(name); err != nil {
			return fmt.Errorf("certificate %s: %w", f.Cert, err)
		}
		if now.After(leaf.NotAfter) {
			return fmt.Errorf("certificate %s for %s expired at %s", f.Cert, name, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		next[strings.ToLower(name)] = &c
		m.opts.Metrics.expiry(name, &c)
	}
	m.static.Store(&next)
	return nil
}
