package reporter

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailtls/mailtls/internal/netguard"
	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/tlsrpt"
)

var testMsg = &Message{ReportID: "2026-11-30T00:00:00Z_a.example_0123@sender.example", Domain: "a.example",
	Range: tlsrpt.DayRange(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))}

const testReport = `{"organization-name":"x","report-id":"r"}`

func guardedDial(allowLoopback bool) func(context.Context, string, string) (net.Conn, error) {
	g := &netguard.Guard{}
	if allowLoopback {
		g.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	return (&net.Dialer{Control: g.Control}).DialContext
}

// TestHTTPSDelivery: POST with application/tlsrpt+gzip to a TLS server whose certificate
// a test CA issued; the SSRF guard, certificate verification and the refusal of
// redirects all apply.
func TestHTTPSDelivery(t *testing.T) {
	ca := testpki.NewCA(t, "tlsrpt test CA")
	var mu sync.Mutex
	var got []byte
	var ctype string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "https://127.0.0.1:1/elsewhere", http.StatusFound)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b, _ := io.ReadAll(zr)
		mu.Lock()
		got, ctype = b, r.Header.Get("Content-Type")
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "127.0.0.1")}}
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/v1/tlsrpt")
	ctx := context.Background()

	s := &HTTPSSender{Dial: guardedDial(true), RootCAs: ca.Pool()}
	if err := s.Send(ctx, u, testMsg, Gzip([]byte(testReport))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if string(got) != testReport || ctype != "application/tlsrpt+gzip" {
		t.Fatalf("server got %q as %q", got, ctype)
	}
	mu.Unlock()

	moved, _ := url.Parse(srv.URL + "/moved")
	if err := s.Send(ctx, moved, testMsg, Gzip([]byte(testReport))); !errors.Is(err, ErrRedirect) {
		t.Errorf("redirect: %v", err)
	}
	other := &HTTPSSender{Dial: guardedDial(true), RootCAs: testpki.NewCA(t, "other CA").Pool()}
	if err := other.Send(ctx, u, testMsg, Gzip([]byte(testReport))); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	guarded := &HTTPSSender{Dial: guardedDial(false), RootCAs: ca.Pool()}
	if err := guarded.Send(ctx, u, testMsg, Gzip([]byte(testReport))); !errors.Is(err, netguard.ErrForbidden) {
		t.Errorf("SSRF guard: %v", err)
	}
}

// smtpSink is a minimal SMTP server on loopback that keeps what it is given.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []sunk
}

type sunk struct {
	from, to string
	data     []byte
}

func newSMTPSink(t *testing.T) *smtpSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { io.WriteString(c, l+"\r\n") }
	say("220 sink ESMTP")
	var m sunk
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-sink")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m.from, _, _ = strings.Cut(strings.TrimSpace(line[10:]), " ")
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = strings.TrimSpace(line[8:])
			say("250 ok")
		case cmd == "DATA":
			say("354 go")
			var buf bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				buf.WriteString(strings.TrimPrefix(l, "."))
			}
			m.data = buf.Bytes()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// TestMailDelivery: a mailto: report is a DKIM-signed multipart/report; report-type=
// "tlsrpt" with TLS-Report-Domain, TLS-Report-Submitter and TLS-Required: No, whose
// application/tlsrpt+gzip part is the report; the signature verifies against the
// published key.
func TestMailDelivery(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sink := newSMTPSink(t)
	s := &MailSender{Relay: sink.ln.Addr().String(), From: "tlsrpt-noreply@sender.example", Org: org,
		DKIM: &dkim.SignOptions{Domain: "sender.example", Selector: "tlsrpt", Signer: priv}}
	u, _ := tlsrpt.ParseRUA("mailto:tls-reports@a.example")
	if err := s.Send(context.Background(), u, testMsg, Gzip([]byte(testReport))); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.msgs) != 1 || sink.msgs[0].to != "<tls-reports@a.example>" || sink.msgs[0].from != "<tlsrpt-noreply@sender.example>" {
		t.Fatalf("envelope %d %q", len(sink.msgs), sink.msgs)
	}
	raw := sink.msgs[0].data
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name != "tlsrpt._domainkey.sender.example" {
			return nil, errors.New("no such key " + name)
		}
		return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "sender.example" {
		t.Fatalf("DKIM: %v %+v", err, vs)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"TLS-Report-Domain": "a.example", "TLS-Report-Submitter": "sender.example", "TLS-Required": "No",
		"Message-Id": "<" + testMsg.ReportID + ">"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("content type %q %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		if ct == "application/tlsrpt+gzip" {
			b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			j, _ := io.ReadAll(zr)
			if string(j) != testReport {
				t.Errorf("report part %q", j)
			}
			if fn := p.FileName(); !strings.HasPrefix(fn, "sender.example!a.example!1795996800!1796083199!") || !strings.HasSuffix(fn, ".json.gz") {
				t.Errorf("filename %q", fn)
			}
		}
	}
	if strings.Join(types, ",") != "text/plain,application/tlsrpt+gzip" {
		t.Errorf("parts %v", types)
	}
	unsigned := &MailSender{Relay: sink.ln.Addr().String(), From: "x@sender.example", Org: org}
	if err := unsigned.Send(context.Background(), u, testMsg, nil); err == nil {
		t.Error("sent without a DKIM key")
	}
}
