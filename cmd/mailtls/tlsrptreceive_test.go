package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/receiver"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
)

// rxLab is a receiving mailtls: a configuration whose resolver is an in-process DNS
// server publishing the reporters' DKIM keys.
type rxLab struct {
	dir, cfg string
	dns      *dnstest.Server
	keys     map[string]ed25519.PrivateKey // submitter domain → key (selector "tlsrpt")
}

func newRxLab(t *testing.T, extra string) *rxLab {
	l := &rxLab{dir: t.TempDir(), dns: dnstest.New(t), keys: map[string]ed25519.PrivateKey{}}
	l.cfg = filepath.Join(l.dir, "mailtls.yaml")
	os.WriteFile(l.cfg, []byte(fmt.Sprintf("state_dir: %s\nresolver:\n  servers: [\"%s\"]\n  timeout: 2s\ntlsrpt_receiver:\n  enabled: true\n  domains: [example.org]\n  dns_timeout: 5s\n%s",
		l.dir, l.dns.Addr, extra)), 0o644)
	return l
}

// mail is a report about example.org from org, composed and DKIM-signed by mailtls's own
// reporter as submitter.
func (l *rxLab) mail(t *testing.T, org, submitter string, r *tlsrpt.Report) []byte {
	t.Helper()
	key, ok := l.keys[submitter]
	if !ok {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		l.dns.Add(fmt.Sprintf(`tlsrpt._domainkey.%s. 300 IN TXT "v=DKIM1; k=ed25519; p=%s"`, submitter, base64.StdEncoding.EncodeToString(pub)))
		l.keys[submitter], key = priv, priv
	}
	r.OrganizationName = org
	j, _ := json.Marshal(r)
	ms := &reporter.MailSender{From: "noreply@" + submitter, Org: reporter.Org{Name: org, Submitter: submitter},
		DKIM: &dkim.SignOptions{Domain: submitter, Selector: "tlsrpt", Signer: key}}
	msg, err := ms.Compose("tlsrpt@example.org", &reporter.Message{ReportID: r.ReportID, Domain: "example.org", Range: r.DateRange}, reporter.Gzip(j))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func (l *rxLab) ingest(msg []byte) (int, string) {
	var out, errb bytes.Buffer
	code := runIn([]string{"tlsrpt", "ingest", "-config", l.cfg}, bytes.NewReader(msg), &out, &errb)
	return code, out.String() + errb.String()
}

func sampleReport(id string, day time.Time, ok, failed int64, details ...tlsrpt.FailureDetail) *tlsrpt.Report {
	return &tlsrpt.Report{ContactInfo: "mailto:tlsrpt@reporter.example", ReportID: id, DateRange: tlsrpt.DayRange(day),
		Policies: []tlsrpt.PolicyResult{{
			Policy:         tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.org", String: []string{"version: STSv1", "mode: enforce", "mx: mx1.example.org", "max_age: 604800"}, MXHost: []string{"mx1.example.org"}},
			Summary:        tlsrpt.Summary{Successful: ok, Failed: failed},
			FailureDetails: details}}}
}

// Issue 17: `tlsrpt ingest` stores a signed report (exit 0, twice: the second is a
// duplicate), and answers Postfix's pipe with sysexits codes: 77 unsigned or
// misaligned, 65 no report, 75 when the DKIM key cannot be looked up, 78 when off.
func TestTLSRPTIngest(t *testing.T) {
	l := newRxLab(t, "")
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	good := l.mail(t, "Reporter One", "reporter.example", sampleReport("one-1", day, 100, 0))
	if code, out := l.ingest(good); code != 0 || !strings.Contains(out, "stored") {
		t.Fatalf("signed report: exit %d: %s", code, out)
	}
	if code, out := l.ingest(append([]byte("From reports@reporter.example Mon Nov 30 01:00:00 2026\n"), good...)); code != 0 || !strings.Contains(out, "duplicate") {
		t.Fatalf("same report again: exit %d: %s", code, out)
	}
	// Unsigned: strip the DKIM-Signature header (its folded lines too).
	unsigned := good[bytes.Index(good, []byte("\r\nFrom:"))+2:]
	if code, out := l.ingest(unsigned); code != 77 || !strings.Contains(out, "rejected") {
		t.Fatalf("unsigned: exit %d: %s", code, out)
	}
	// Signed by a domain that is not the submitter's.
	other := l.mail(t, "Reporter One", "reporter.example", sampleReport("one-2", day, 1, 0))
	other = bytes.Replace(other, []byte("TLS-Report-Submitter: reporter.example"), []byte("TLS-Report-Submitter: victim.example"), 1)
	if code, out := l.ingest(other); code != 77 {
		t.Fatalf("misaligned: exit %d: %s", code, out)
	}
	if code, out := l.ingest([]byte("From: a@b.example\r\nSubject: hello\r\n\r\nnot a report\r\n")); code != 77 {
		t.Fatalf("plain unsigned mail: exit %d: %s", code, out)
	}
	if code, out := l.ingest([]byte("no header at all")); code != 65 {
		t.Fatalf("not a message: exit %d: %s", code, out)
	}
	// The key's server fails: defer.
	l.dns.SetMode("tlsrpt._domainkey.reporter.example", dns.TypeTXT, dnstest.Bogus)
	if code, out := l.ingest(l.mail(t, "Reporter One", "reporter.example", sampleReport("one-3", day, 1, 0))); code != 75 {
		t.Fatalf("SERVFAIL on the key: exit %d: %s", code, out)
	}
	off := newRxLab(t, "")
	os.WriteFile(off.cfg, []byte("state_dir: "+off.dir+"\n"), 0o644)
	if code, _ := off.ingest(good); code != 78 {
		t.Fatalf("receiver off: exit %d, want 78", code)
	}
	st, err := receiver.Open(filepath.Join(l.dir, "tlsrpt-received.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.Count(t.Context()); n != 1 {
		t.Fatalf("%d reports stored, want 1", n)
	}
}

// summaryLab ingests the README's sample: two reporters, two days, one of them with a
// certificate problem on one MX.
func summaryLab(t *testing.T) *rxLab {
	l := newRxLab(t, "  alert_failure_rate: 0.05\n")
	d1 := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	for _, m := range [][]byte{
		l.mail(t, "Big Mail Inc.", "bigmail.example", sampleReport("bm-29", d1, 18230, 0)),
		l.mail(t, "Big Mail Inc.", "bigmail.example", sampleReport("bm-30", d2, 17911, 1204,
			tlsrpt.FailureDetail{ResultType: tlsrpt.CertificateExpired, SendingMTAIP: "198.51.100.20", ReceivingMXHostname: "mx2.example.org", ReceivingIP: "203.0.113.12", FailedSessionCount: 1204})),
		l.mail(t, "Other Provider", "other.example", sampleReport("op-30", d2, 2310, 3,
			tlsrpt.FailureDetail{ResultType: tlsrpt.StartTLSNotSupported, SendingMTAIP: "192.0.2.33", ReceivingMXHostname: "mx2.example.org", ReceivingIP: "203.0.113.12", FailedSessionCount: 3})),
	} {
		if code, out := l.ingest(m); code != 0 {
			t.Fatalf("ingest: %d %s", code, out)
		}
	}
	return l
}

// Issue 17: `tlsrpt summary` per day, domain and organisation, as a table (the README's
// sample, checked here) and as JSON.
func TestTLSRPTSummary(t *testing.T) {
	l := summaryLab(t)
	var out, errb bytes.Buffer
	if code := run([]string{"tlsrpt", "summary", "example.org", "-since", "all", "-config", l.cfg}, &out, &errb); code != 0 {
		t.Fatalf("summary: %d %s", code, errb.String())
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sample := "$ mailtls tlsrpt summary example.org -since all\n" + out.String()
	if !strings.Contains(string(readme), sample) {
		t.Errorf("README's sample summary differs from what the command prints now:\n%s", sample)
	}
	out.Reset()
	if code := run([]string{"tlsrpt", "summary", "-json", "-since", "all", "-config", l.cfg}, &out, &errb); code != 0 {
		t.Fatalf("summary -json: %d %s", code, errb.String())
	}
	var s receiver.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 3 || s.Rows[1].Failed != 1204 || s.Rows[1].ResultTypes["certificate-expired"] != 1204 ||
		s.Rows[2].Organization != "Other Provider" || s.Rows[2].MXHosts[0] != "mx2.example.org [203.0.113.12]" {
		t.Fatalf("JSON summary: %+v", s.Rows)
	}
	out.Reset()
	if code := run([]string{"tlsrpt", "summary", "other.example", "-since", "all", "-config", l.cfg}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "no reports") {
		t.Fatalf("another domain: %d %s", code, out.String())
	}
	if code := run([]string{"tlsrpt", "summary", "-since", "soon", "-config", l.cfg}, &out, &errb); code != 2 {
		t.Fatalf("bad -since: %d", code)
	}
}
