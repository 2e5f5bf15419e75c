package receiver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/receiver"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

const day = "2026-11-30"

// outbound runs the sending side of mailtls: counts in its store, the day's report built
// by tlsrpt/reporter, gzip as it is sent.
func outbound(t *testing.T) (*tlsrpt.Report, []byte, *reporter.Message) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "out.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := store.NewBatch()
	rec := "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"
	sts := store.Group{Day: day, Domain: "example.org", Record: rec,
		Policy: `{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx.example.org","max_age: 86400"],"policy-domain":"example.org","mx-host":["mx.example.org"]}`}
	dane := store.Group{Day: day, Domain: "example.org", Record: rec,
		Policy: `{"policy-type":"tlsa","policy-string":["3 1 1 0000000000000000000000000000000000000000000000000000000000000000"],"policy-domain":"mx.example.org"}`}
	b.Sessions[sts] = &store.Counts{OK: 120, Failed: 7}
	b.Sessions[dane] = &store.Counts{OK: 30, Failed: 2}
	b.Failures[store.DetailKey{Group: sts, Detail: `{"result-type":"certificate-expired","receiving-ip":"192.0.2.7","receiving-mx-hostname":"mx.example.org","failed-session-count":0}`}] = 5
	b.Failures[store.DetailKey{Group: sts, Detail: `{"result-type":"starttls-not-supported","receiving-ip":"192.0.2.8","failed-session-count":0}`}] = 2
	b.Failures[store.DetailKey{Group: dane, Detail: `{"result-type":"tlsa-invalid","receiving-ip":"192.0.2.7","failed-session-count":0}`}] = 2
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	groups, err := st.Day(context.Background(), day)
	if err != nil || len(groups) != 1 {
		t.Fatalf("day groups %d: %v", len(groups), err)
	}
	r, err := reporter.Build(groups[0], reporter.Org{Name: "Sender Org", Contact: "mailto:pm@sender.example", Submitter: "sender.example"})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(r)
	return r, reporter.Gzip(j), &reporter.Message{ReportID: r.ReportID, Domain: "example.org", Range: r.DateRange}
}

func newReceiver(t *testing.T) *receiver.Receiver {
	st, err := receiver.Open(filepath.Join(t.TempDir(), "rx.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &receiver.Receiver{Store: st, Log: slog.New(slog.DiscardHandler), Ours: func(d string) bool { return d == "example.org" }}
}

// keyDNS publishes the ed25519 key at sel._domainkey.dom on an in-process DNS server
// and returns a lookup through mailtls's own resolver.
func keyDNS(t *testing.T, pub ed25519.PublicKey, sel, dom string) (*dnstest.Server, func(string) ([]string, error)) {
	srv := dnstest.New(t)
	if pub != nil {
		srv.Add(fmt.Sprintf(`%s._domainkey.%s. 300 IN TXT "v=DKIM1; k=ed25519; p=%s"`, sel, dom, base64.StdEncoding.EncodeToString(pub)))
	}
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return srv, receiver.LookupTXT(context.Background(), dc)
}

// totals sums what a receiver's store holds, over every policy domain (the DANE
// policy's domain is the TLSA base domain, mx.example.org).
func totals(t *testing.T, rc *receiver.Receiver) (ok, failed int64, byType map[string]int64) {
	t.Helper()
	s, err := rc.Store.Summary(context.Background(), receiver.SummaryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byType = map[string]int64{}
	for _, row := range s.Rows {
		ok += row.Successful
		failed += row.Failed
		for k, v := range row.ResultTypes {
			byType[k] += v
		}
	}
	return ok, failed, byType
}

// Issue 17: reports produced by mailtls's own outbound reporting are received by a
// second mailtls over HTTPS and by signed mail, and the counts match.
func TestOwnReportsRoundTrip(t *testing.T) {
	sent, gz, msg := outbound(t)
	var wantOK, wantFailed int64
	wantTypes := map[string]int64{}
	for _, p := range sent.Policies {
		wantOK += p.Summary.Successful
		wantFailed += p.Summary.Failed
		for _, d := range p.FailureDetails {
			wantTypes[string(d.ResultType)] += d.FailedSessionCount
		}
	}
	if wantOK != 150 || wantFailed != 9 {
		t.Fatalf("outbound report %d/%d", wantOK, wantFailed)
	}

	// HTTPS, through the reporter's own sender.
	rxHTTPS := newReceiver(t)
	srv := httptest.NewTLSServer(receiver.NewHandler(rxHTTPS, receiver.RateLimit{}))
	defer srv.Close()
	s := &reporter.HTTPSSender{RootCAs: rootsOf(srv), Timeout: 5 * time.Second}
	u, _ := url.Parse(srv.URL + "/tlsrpt")
	if err := s.Send(context.Background(), u, msg, gz); err != nil {
		t.Fatal(err)
	}

	// Mail, composed and signed by the reporter's own mail sender.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, lookup := keyDNS(t, pub, "tlsrpt", "sender.example")
	ms := &reporter.MailSender{From: "tlsrpt-noreply@sender.example", Org: reporter.Org{Name: "Sender Org", Submitter: "sender.example"},
		DKIM: &dkim.SignOptions{Domain: "sender.example", Selector: "tlsrpt", Signer: priv}}
	mailed, err := ms.Compose("tlsrpt@example.org", msg, gz)
	if err != nil {
		t.Fatal(err)
	}
	rxMail := newReceiver(t)
	got, isNew, err := rxMail.AcceptMail(context.Background(), mailed, lookup)
	if err != nil || !isNew || got.ReportID != sent.ReportID {
		t.Fatalf("mail: new=%v err=%v", isNew, err)
	}
	if _, isNew, err := rxMail.AcceptMail(context.Background(), mailed, lookup); err != nil || isNew {
		t.Fatalf("second delivery of the same mail: new=%v err=%v", isNew, err)
	}

	for name, rc := range map[string]*receiver.Receiver{"https": rxHTTPS, "mail": rxMail} {
		ok, failed, types := totals(t, rc)
		if ok != wantOK || failed != wantFailed {
			t.Errorf("%s: received %d ok / %d failed, sent %d / %d", name, ok, failed, wantOK, wantFailed)
		}
		for k, v := range wantTypes {
			if types[k] != v {
				t.Errorf("%s: %s %d, sent %d", name, k, types[k], v)
			}
		}
		if n, _ := rc.Store.Count(context.Background()); n != 1 {
			t.Errorf("%s: %d reports stored", name, n)
		}
	}
}

func rootsOf(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

func signMail(t *testing.T, msg string, dom, sel string, priv ed25519.PrivateKey, keys ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	o := &dkim.SignOptions{Domain: dom, Selector: sel, Signer: priv, HeaderKeys: keys}
	if err := dkim.Sign(&out, strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n")), o); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func bareMessage(submitter, report string) string {
	return "From: reports@" + submitter + "\nTo: tlsrpt@example.org\nSubject: Report Domain: example.org\nTLS-Report-Submitter: " + submitter +
		"\nTLS-Report-Domain: example.org\nMIME-Version: 1.0\nContent-Type: application/tlsrpt+json\n" +
		"Content-Disposition: attachment; filename=\"r.json\"\n\n" + report + "\n"
}

const report1 = `{"organization-name":"Other Org","date-range":{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"},"contact-info":"x","report-id":"bare-1","policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.org"},"summary":{"total-successful-session-count":4,"total-failure-session-count":0}}]}`

func TestMailDKIM(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	dnsSrv, lookup := keyDNS(t, pub, "s1", "other.example")
	ctx := context.Background()
	hdrs := []string{"From", "To", "Subject", "TLS-Report-Submitter", "Content-Type"}
	good := signMail(t, bareMessage("other.example", report1), "other.example", "s1", priv, hdrs...)

	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"unsigned", []byte(strings.ReplaceAll(bareMessage("other.example", report1), "\n", "\r\n")), receiver.ErrUnsigned},
		{"body altered", bytes.Replace(good, []byte(`"total-successful-session-count":4`), []byte(`"total-successful-session-count":9`), 1), receiver.ErrUnsigned},
		{"wrong key", signMail(t, bareMessage("other.example", report1), "other.example", "s1", otherPriv, hdrs...), receiver.ErrUnsigned},
		{"misaligned d=", signMail(t, bareMessage("victim.example", report1), "other.example", "s1", priv, hdrs...), receiver.ErrUnsigned},
		{"submitter header not signed", signMail(t, bareMessage("other.example", report1), "other.example", "s1", priv, "From", "To"), receiver.ErrUnsigned},
		{"no report part", signMail(t, strings.Replace(bareMessage("other.example", report1), "application/tlsrpt+json", "text/plain", 1), "other.example", "s1", priv, hdrs...), receiver.ErrNoReport},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t)
			if _, _, err := rc.AcceptMail(ctx, c.msg, lookup); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if n, _ := rc.Store.Count(ctx); n != 0 {
				t.Fatal("a refused report was stored")
			}
		})
	}
	// A bare attachment, aligned: a subdomain of the signing domain is the submitter.
	rc := newReceiver(t)
	sub := signMail(t, bareMessage("reports.other.example", report1), "other.example", "s1", priv, hdrs...)
	if _, isNew, err := rc.AcceptMail(ctx, sub, lookup); err != nil || !isNew {
		t.Fatalf("aligned bare attachment: new=%v err=%v", isNew, err)
	}
	// The key's DNS server fails: a temporary failure (the MTA retries).
	dnsSrv.SetMode("s1._domainkey.other.example", dns.TypeTXT, dnstest.Bogus)
	if _, _, err := newReceiver(t).AcceptMail(ctx, good, lookup); !errors.Is(err, receiver.ErrTempFail) {
		t.Fatalf("SERVFAIL on the key: %v, want ErrTempFail", err)
	}
}
