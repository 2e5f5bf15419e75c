package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/receiver"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
)

// Issue 17: with tlsrpt_receiver on its own listener, serve accepts a report POSTed by
// mailtls's own outbound HTTPS sender, stores it once (a second delivery is a
// duplicate), and refuses a report about a domain it does not serve.
func TestServeReceivesTLSRPT(t *testing.T) {
	l := lab.New(t)
	dir := t.TempDir()
	ca := testpki.NewCA(t, "receiver test CA")
	certPEM, keyPEM := ca.LeafPEM(t, "127.0.0.1")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	addr := lab.FreeAddr(t)
	yaml := l.Config("", lab.FreeAddr(t), dir) + fmt.Sprintf(`
tlsrpt_receiver:
  enabled: true
  listen: "%s"
  cert_file: %s
  key_file: %s
  url_path: /.well-known/tlsrpt
  domains: [example.org]
`, addr, certFile, keyFile)
	rd := startDaemon(t, "rx.yaml", yaml)
	ctx, cfg := rd.ctx, rd.cfg
	report := func(domain, id string) []byte {
		r := tlsrpt.Report{OrganizationName: "Sender Org", ContactInfo: "mailto:pm@sender.example", ReportID: id,
			DateRange: tlsrpt.DayRange(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)),
			Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain, MXHost: []string{"mx." + domain}},
				Summary:        tlsrpt.Summary{Successful: 7, Failed: 3},
				FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.CertificateExpired, ReceivingIP: "192.0.2.1", FailedSessionCount: 3}}}}}
		b, _ := json.Marshal(r)
		return reporter.Gzip(b)
	}
	sender := &reporter.HTTPSSender{RootCAs: ca.Pool(), Timeout: 5 * time.Second}
	u, _ := url.Parse("https://" + addr + "/.well-known/tlsrpt")
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := sender.Send(ctx, u, nil, report("example.org", "r1@sender.example"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST to the receiver: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := sender.Send(ctx, u, nil, report("example.org", "r1@sender.example")); err != nil {
		t.Fatalf("a repeated delivery must be accepted (and not stored twice): %v", err)
	}
	if err := sender.Send(ctx, u, nil, report("someone-else.example", "r2@sender.example")); err == nil {
		t.Fatal("a report about a domain not ours was accepted")
	}
	rd.stop()
	st, err := receiver.Open(cfg.TLSRPTReceivedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.Count(context.Background()); n != 1 {
		t.Fatalf("%d reports stored, want 1", n)
	}
}

// With no own listener, the policy host's handler sends the receiver's path to the
// receiver and everything else to the policy host.
func TestReceiverMountsOnPolicyHost(t *testing.T) {
	cfg, err := config.Parse([]byte(fmt.Sprintf("state_dir: %s\ntlsrpt_receiver:\n  enabled: true\n  url_path: /tlsrpt\n", t.TempDir())), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReceiverRole(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.st.Close()
	host := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) })
	h := r.mountOn(host)
	for path, want := range map[string]int{"/.well-known/mta-sts.txt": 299, "/tlsrpt": 405, "/tlsrpt/x": 299} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://mta-sts.example.org"+path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "https://mta-sts.example.org/tlsrpt", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/tlsrpt+json")
	h.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("POST of an empty report: %d, want 400", rec.Code)
	}
}

// With hosting on and no listener of its own, the receiver answers on the policy host's
// HTTPS listener (static certificate for mta-sts.hosted.test), next to the policy file.
func TestServeReceivesTLSRPTOnPolicyHost(t *testing.T) {
	l := lab.New(t)
	dir := t.TempDir()
	ca := testpki.NewCA(t, "hosting test CA")
	certPEM, keyPEM := ca.LeafPEM(t, "mta-sts.hosted.test")
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	addr := lab.FreeAddr(t)
	yaml := l.Config("", lab.FreeAddr(t), dir) + fmt.Sprintf(`
hosting:
  listen: "%s"
  domains:
    - {domain: hosted.test, mode: enforce, mx: [mx.hosted.test], max_age: 86400, cert_file: %s/cert.pem, key_file: %s/key.pem}
tlsrpt_receiver:
  enabled: true
  url_path: /tlsrpt
`, addr, dir, dir)
	rd := startDaemon(t, "rx.yaml", yaml)
	ctx, cfg := rd.ctx, rd.cfg
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dd net.Dialer
		return dd.DialContext(ctx, network, addr)
	}
	r := tlsrpt.Report{OrganizationName: "Sender Org", ReportID: "h1@sender.example",
		DateRange: tlsrpt.DayRange(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)),
		Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "hosted.test"},
			Summary: tlsrpt.Summary{Successful: 5, Failed: 0}}}}
	body, _ := json.Marshal(r)
	sender := &reporter.HTTPSSender{Dial: dial, RootCAs: ca.Pool(), Timeout: 5 * time.Second}
	u, _ := url.Parse("https://mta-sts.hosted.test/tlsrpt")
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := sender.Send(ctx, u, nil, reporter.Gzip(body))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST to the policy host: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The policy file is still served on the same listener.
	client := &http.Client{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := client.Get("https://mta-sts.hosted.test/.well-known/mta-sts.txt")
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(pol), "mode: enforce") {
		t.Fatalf("policy file: %d %q", resp.StatusCode, pol)
	}
	rd.stop()
	st, err := receiver.Open(cfg.TLSRPTReceivedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.Count(context.Background()); n != 1 {
		t.Fatalf("%d reports stored, want 1", n)
	}
}

// keep_for: reports older than it are pruned when the daemon starts.
func TestReceiverPrunesAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf("state_dir: %s\ntlsrpt_receiver:\n  enabled: true\n  keep_for: 48h\n", dir)), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := receiver.Open(cfg.TLSRPTReceivedPath())
	if err != nil {
		t.Fatal(err)
	}
	for id, day := range map[string]time.Time{"old": time.Now().AddDate(0, 0, -5), "new": time.Now()} {
		r := &tlsrpt.Report{OrganizationName: "O", ReportID: id, DateRange: tlsrpt.DayRange(day),
			Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicyNotFound, Domain: "example.org"}}}}
		if _, err := st.Put(context.Background(), r, []byte("{}"), receiver.Origin{Source: "https"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	r, err := newReceiverRole(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := r.start(false)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := r.st.Count(context.Background())
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports after start, want 1 (the old one pruned)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop(context.Background())
}
