package receiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"golang.org/x/net/publicsuffix"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
)

// Mail errors; `mailtls tlsrpt ingest` maps them to sysexits codes.
var (
	// ErrNoReport: the message carries no TLS report part (EX_DATAERR: bounce).
	ErrNoReport = errors.New("no TLS report in the message")
	// ErrUnsigned: no DKIM signature verifies with a domain aligned to the reporting
	// organisation (RFC 8460 §5.3) (EX_NOPERM: bounce).
	ErrUnsigned = errors.New("no verifying DKIM signature aligned with the report submitter")
	// ErrTempFail: a DKIM key could not be looked up for now (EX_TEMPFAIL: retry).
	ErrTempFail = errors.New("DKIM key lookup failed temporarily")
)

const (
	maxMIMEDepth = 5
	maxMIMEParts = 50
)

// MaxMessage bounds the message `tlsrpt ingest` reads: a report's compressed limit in
// base64 plus the other parts and headers.
func MaxMessage(lim Limits) int64 { return lim.withDefaults().MaxCompressed*4/3 + 256<<10 }

// FindReport returns the TLS report carried by msg: the part of a multipart/report;
// report-type=tlsrpt message (RFC 8460 §5.3) or a bare attachment whose type is
// application/tlsrpt+gzip or application/tlsrpt+json (or, by file name, *.json.gz or
// *.json under a generic type), transfer-decoded, inflated within lim and returned as
// JSON.
func FindReport(msg []byte, lim Limits) ([]byte, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	parts := 0
	body, gz, err := findPart(textproto.MIMEHeader(m.Header), m.Body, 0, &parts)
	if err != nil {
		return nil, err
	}
	return ReadBody(bytes.NewReader(body), gz, lim)
}

func findPart(h textproto.MIMEHeader, body io.Reader, depth int, parts *int) ([]byte, bool, error) {
	if *parts++; *parts > maxMIMEParts || depth > maxMIMEDepth {
		return nil, false, fmt.Errorf("%w: MIME structure too deep or too many parts", ErrTooLarge)
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, false, ErrNoReport
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil, false, ErrNoReport
			}
			if err != nil {
				return nil, false, fmt.Errorf("%w: MIME: %v", ErrMalformed, err)
			}
			b, gz, err := findPart(p.Header, p, depth+1, parts)
			if !errors.Is(err, ErrNoReport) {
				return b, gz, err
			}
		}
	}
	name := strings.ToLower(params["name"])
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		name = strings.ToLower(dp["filename"])
	}
	var gz bool
	switch {
	case mt == "application/tlsrpt+gzip":
		gz = true
	case mt == "application/tlsrpt+json":
	case (mt == "application/gzip" || mt == "application/x-gzip" || mt == "application/octet-stream") && strings.HasSuffix(name, ".json.gz"):
		gz = true
	case (mt == "application/json" || mt == "application/octet-stream") && strings.HasSuffix(name, ".json"):
	default:
		return nil, false, ErrNoReport
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: bufio.NewReader(body)})
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, false, fmt.Errorf("%w: report part: %v", ErrMalformed, err)
	}
	return b, gz, nil
}

// newlineStripper drops CR, LF and blanks so base64 lines decode as one stream.
type newlineStripper struct{ r *bufio.Reader }

func (s *newlineStripper) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := s.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if c == '\r' || c == '\n' || c == ' ' || c == '\t' {
			continue
		}
		p[n] = c
		n++
	}
	return n, nil
}

// Submitter is the reporting organisation's domain a message claims: its
// TLS-Report-Submitter header (RFC 8460 §5.3), or else the From address's domain.
func Submitter(msg []byte) (string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if s := strings.TrimSpace(m.Header.Get("TLS-Report-Submitter")); s != "" {
		return strings.ToLower(strings.TrimSuffix(s, ".")), nil
	}
	a, err := mail.ParseAddress(m.Header.Get("From"))
	if err != nil {
		return "", fmt.Errorf("%w: no TLS-Report-Submitter and From is %v", ErrUnsigned, err)
	}
	at := strings.LastIndexByte(a.Address, '@')
	return strings.ToLower(a.Address[at+1:]), nil
}

// VerifyMail requires a DKIM signature (RFC 6376) on msg that verifies and whose d=
// aligns with the submitter (the same organizational domain: DMARC's relaxed alignment,
// see aligned), and that covers the header naming the submitter. It returns the aligned domain.
func VerifyMail(msg []byte, lookupTXT func(string) ([]string, error)) (domain string, err error) {
	submitter, err := Submitter(msg)
	if err != nil {
		return "", err
	}
	m, _ := mail.ReadMessage(bytes.NewReader(msg))
	header := "from"
	if m.Header.Get("TLS-Report-Submitter") != "" {
		header = "tls-report-submitter"
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookupTXT, MaxVerifications: 5})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var temp, why []string
	for _, v := range vs {
		switch {
		case v.Err != nil && dkim.IsTempFail(v.Err):
			temp = append(temp, v.Domain+": "+v.Err.Error())
		case v.Err != nil:
			why = append(why, v.Domain+": "+v.Err.Error())
		case !aligned(strings.ToLower(v.Domain), submitter):
			why = append(why, fmt.Sprintf("d=%s does not align with %s", v.Domain, submitter))
		case !signs(v.HeaderKeys, header):
			why = append(why, fmt.Sprintf("d=%s does not sign the %s header", v.Domain, header))
		default:
			return strings.ToLower(v.Domain), nil
		}
	}
	if len(temp) > 0 {
		return "", fmt.Errorf("%w: %s", ErrTempFail, strings.Join(temp, "; "))
	}
	if len(vs) == 0 {
		why = append(why, "the message is not signed")
	}
	return "", fmt.Errorf("%w (%s): %s", ErrUnsigned, submitter, strings.Join(why, "; "))
}

func signs(keys []string, h string) bool {
	for _, k := range keys {
		if strings.EqualFold(strings.TrimSpace(k), h) {
			return true
		}
	}
	return false
}

// aligned is DMARC's relaxed alignment (RFC 7489 §3.1.1): d and submitter have the same
// organizational domain, found with the public suffix list (golang.org/x/net/publicsuffix),
// so d=example.co.uk aligns with mail.example.co.uk, but a signature by one registrant
// never aligns with another under the same public suffix (co.uk, github.io).
func aligned(d, submitter string) bool {
	d, submitter = strings.TrimSuffix(d, "."), strings.TrimSuffix(submitter, ".")
	if d == submitter {
		return true
	}
	orgD, err1 := publicsuffix.EffectiveTLDPlusOne(d)
	orgS, err2 := publicsuffix.EffectiveTLDPlusOne(submitter)
	return err1 == nil && err2 == nil && orgD == orgS
}

// LookupTXT is a DKIM key lookup through mailtls's resolver: records of one TXT RRset
// joined per record; an unanswered question is a temporary error (the message is
// retried), a missing name or record a permanent one.
func LookupTXT(ctx context.Context, r dnsclient.Resolver) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		res, err := r.Lookup(ctx, name, dns.TypeTXT)
		if err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
		}
		var out []string
		for _, rr := range res.Records {
			if t, ok := rr.(*dns.TXT); ok {
				out = append(out, strings.Join(t.Txt, ""))
			}
		}
		if len(out) == 0 {
			return nil, &net.DNSError{Err: "no TXT record", Name: name, IsNotFound: true}
		}
		return out, nil
	}
}
