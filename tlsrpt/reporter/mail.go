package reporter

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailtls/mailtls/tlsrpt"
)

// Message is what a destination needs to know of a report besides its bytes.
type Message struct {
	ReportID string
	Domain   string // the policy domain reported on
	Range    tlsrpt.DateRange
}

// MailSender sends reports to mailto: destinations as RFC 8460 §5.3 messages: a
// multipart/report; report-type="tlsrpt" with a human-readable part and the report as
// application/tlsrpt+gzip, TLS-Report-Domain, TLS-Report-Submitter and TLS-Required: No
// (RFC 8689 §5: the report must get through even to a domain whose TLS is broken),
// DKIM-signed (RFC 6376) by the submitting domain, and submitted to Relay.
type MailSender struct {
	Relay    string // host:port of the SMTP relay, e.g. "localhost:25"
	HeloName string // our name in EHLO; "" means "localhost"
	From     string // envelope and header sender, e.g. "tlsrpt-noreply@example.net"
	Org      Org
	DKIM     *dkim.SignOptions // Domain, Selector, Signer; nil refuses to send
	Timeout  time.Duration     // whole submission; 0 means 60 s
	Now      func() time.Time
}

// LoadDKIMKey reads a PEM private key (PKCS#8, PKCS#1 RSA) usable for DKIM: RSA of at
// least 1024 bits (RFC 8301 §3.2) or Ed25519 (RFC 8463).
func LoadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("dkim key %s: no PEM block", path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return nil, fmt.Errorf("dkim key %s: neither PKCS#8 nor PKCS#1: %w", path, err)
		}
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dkim key %s: not a signing key", path)
	}
	if _, err := dkim.NewSigner(&dkim.SignOptions{Domain: "x.invalid", Selector: "s", Signer: s}); err != nil {
		return nil, fmt.Errorf("dkim key %s: %w", path, err)
	}
	return s, nil
}

// Filename is the report's attachment name (RFC 8460 §5.3): submitter!policy-domain!
// begin!end!id.json.gz, the times in seconds since the epoch.
func Filename(submitter string, m *Message) string {
	id := strings.NewReplacer("!", "_", "/", "_", "@", "_").Replace(m.ReportID)
	return fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", submitter, m.Domain, m.Range.Start.Unix(), m.Range.End.Unix(), id)
}

// Compose writes the signed message for one destination address.
func (s *MailSender) Compose(to string, m *Message, gz []byte) ([]byte, error) {
	if s.DKIM == nil || s.DKIM.Signer == nil {
		return nil, errors.New("reporter: no DKIM key configured: mail reports are dropped unsigned by receivers (RFC 8460 §5.3)")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	text, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"7bit"}})
	fmt.Fprintf(text, "This is an aggregate TLS report (RFC 8460) from %s for %s,\r\ncovering %s to %s.\r\nReport-ID: %s\r\n",
		s.Org.Name, m.Domain, m.Range.Start.Format(time.RFC3339), m.Range.End.Format(time.RFC3339), m.ReportID)
	att, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {`application/tlsrpt+gzip; name="` + Filename(s.Org.Submitter, m) + `"`},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {`attachment; filename="` + Filename(s.Org.Submitter, m) + `"`},
	})
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		fmt.Fprintf(att, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(att, "%s\r\n", enc)
	mw.Close()

	var msg bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&msg, "%s: %s\r\n", k, v) }
	h("From", s.From)
	h("To", to)
	h("Date", now().UTC().Format(time.RFC1123Z))
	h("Subject", mime.QEncoding.Encode("utf-8", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", m.Domain, s.Org.Submitter, m.ReportID)))
	h("Message-ID", "<"+m.ReportID+">")
	h("TLS-Report-Domain", m.Domain)
	h("TLS-Report-Submitter", s.Org.Submitter)
	h("TLS-Required", "No")
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/report; report-type="tlsrpt"; boundary="`+mw.Boundary()+`"`)
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())

	opts := *s.DKIM
	opts.HeaderCanonicalization, opts.BodyCanonicalization = dkim.CanonicalizationRelaxed, dkim.CanonicalizationRelaxed
	opts.HeaderKeys = []string{"From", "To", "Date", "Subject", "Message-ID", "TLS-Report-Domain", "TLS-Report-Submitter", "TLS-Required", "MIME-Version", "Content-Type"}
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, bytes.NewReader(msg.Bytes()), &opts); err != nil {
		return nil, fmt.Errorf("reporter: DKIM signing: %w", err)
	}
	return signed.Bytes(), nil
}

// Send composes and submits the report to the mailto: destination u.
func (s *MailSender) Send(ctx context.Context, u *url.URL, m *Message, gz []byte) error {
	if u.Scheme != "mailto" {
		return fmt.Errorf("reporter: %s is not a mailto URI", u)
	}
	to := tlsrpt.MailtoAddress(u)
	if i := strings.IndexByte(to, '?'); i >= 0 {
		to = to[:i]
	}
	msg, err := s.Compose(to, m, gz)
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Relay)
	if err != nil {
		return fmt.Errorf("reporter: SMTP relay %s: %w", s.Relay, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(s.Relay)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("reporter: SMTP relay %s: %w", s.Relay, err)
	}
	defer c.Close()
	helo := s.HeloName
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("reporter: SMTP EHLO: %w", err)
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("reporter: SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("reporter: SMTP RCPT TO %s: %w", to, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("reporter: SMTP DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("reporter: SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("reporter: SMTP end of data: %w", err)
	}
	return c.Quit()
}
