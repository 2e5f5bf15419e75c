package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
	cfg, err := config.Parse([]byte(yaml), "rx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
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
		err = sender.Send(ctx, u, nil, report("example.org", "r1@sender.example"))
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
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
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
