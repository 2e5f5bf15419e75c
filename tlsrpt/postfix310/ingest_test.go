package postfix310

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/receiver"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
)

// TestPostfix310PipeIngest (issue 17): real Postfix 3.10 delivers mail for
// tlsrpt@reports.s.lab through a pipe(8) transport to `mailtls tlsrpt ingest`, set up as
// the README says (master.cf, user=, transport map). A report signed by mailtls's own
// reporter ends up in the received-report store; an unsigned one is bounced by Postfix
// with the reason mailtls gave (EX_NOPERM), which Postfix logs.
func TestPostfix310PipeIngest(t *testing.T) {
	testenv.Root(t, "chroot into the Debian 13 root, a Postfix smtpd on loopback")
	testenv.LookPath(t, "chroot", "coreutils")
	goTool := testenv.LookPath(t, "go", "golang")
	if _, err := os.Stat(filepath.Join(Root, "usr/sbin/postfix")); err != nil {
		testenv.Missing(t, "no Debian 13 root with Postfix 3.10 at "+Root+" (scripts/install-test-deps.sh builds it)")
	}
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", Root, root).CombinedOutput(); err != nil {
		t.Fatalf("copy root: %v %s", err, out)
	}
	// The mailtls binary under test, inside the root where pipe(8) runs it.
	build := exec.Command(goTool, "build", "-o", filepath.Join(root, "usr/local/bin/mailtls"), "github.com/mailtls/mailtls/cmd/mailtls")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	dnsSrv := dnstest.New(t)
	pub, key, _ := ed25519.GenerateKey(nil)
	dnsSrv.Add(`tlsrpt._domainkey.sender.s.lab. 300 IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(pub) + `"`)

	run(t, root, "useradd", "-r", "-M", "-d", "/var/lib/mailtls", "mailtls")
	run(t, root, "mkdir", "-p", "/var/lib/mailtls", "/etc/mailtls")
	run(t, root, "chown", "mailtls:", "/var/lib/mailtls")
	os.WriteFile(filepath.Join(root, "etc/mailtls/mailtls.yaml"), []byte(fmt.Sprintf(
		"state_dir: /var/lib/mailtls\nresolver:\n  servers: [\"%s\"]\n  timeout: 2s\ntlsrpt_receiver:\n  enabled: true\n  domains: [bad.s.lab]\n", dnsSrv.Addr)), 0o644)

	smtpdIP, smtpdLn := loopback(t, "2525")
	smtpdLn.Close()
	os.WriteFile(filepath.Join(root, "etc/mailname"), []byte("receiver.s.lab\n"), 0o644)
	run(t, root, "postconf", "-e",
		"myhostname=receiver.s.lab", "mydestination=", "inet_interfaces=loopback-only", "inet_protocols=ipv4",
		"maillog_file=/var/log/postfix.log", "alias_maps=", "alias_database=",
		"relay_domains=reports.s.lab", "relay_recipient_maps=",
		"transport_maps=inline:{tlsrpt@reports.s.lab=tlsrpt:}", "tlsrpt_destination_recipient_limit=1",
		"smtp_dns_support_level=disabled", "default_transport=error:no outbound mail in this test",
		"bounce_queue_lifetime=0")
	run(t, root, "postconf", "-F", "*/*/chroot=n")
	run(t, root, "postconf", "-MX", "smtp/inet")
	run(t, root, "postconf", "-M", smtpdIP+":2525/inet="+smtpdIP+":2525 inet n - n - - smtpd")
	run(t, root, "postconf", "-M", "tlsrpt/unix=tlsrpt unix - n n - 1 pipe user=mailtls argv=/usr/local/bin/mailtls tlsrpt ingest -config /etc/mailtls/mailtls.yaml")
	run(t, root, "postfix", "start")
	defer exec.Command("chroot", root, "postfix", "stop").Run()
	logFile := filepath.Join(root, "var/log/postfix.log")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("postfix log:\n%s", b)
		}
	}()

	// A report about bad.s.lab from mailtls's own reporter, DKIM-signed as sender.s.lab.
	rep := &tlsrpt.Report{OrganizationName: "mailtls test", ContactInfo: "mailto:pm@sender.s.lab", ReportID: "pipe-1@sender.s.lab",
		DateRange: tlsrpt.DayRange(time.Now()),
		Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "bad.s.lab", MXHost: []string{"mail.bad.s.lab"}},
			Summary:        tlsrpt.Summary{Successful: 4, Failed: 2},
			FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ValidationFailure, ReceivingIP: "127.0.0.10", FailedSessionCount: 2}}}}}
	body, _ := json.Marshal(rep)
	org := reporter.Org{Name: "mailtls test", Submitter: "sender.s.lab"}
	s := &reporter.MailSender{Relay: net.JoinHostPort(smtpdIP, "2525"), HeloName: "sender.s.lab", From: "tlsrpt-noreply@sender.s.lab", Org: org,
		DKIM: &dkim.SignOptions{Domain: "sender.s.lab", Selector: "tlsrpt", Signer: key}}
	u, _ := tlsrpt.ParseRUA("mailto:tlsrpt@reports.s.lab")
	msg := &reporter.Message{ReportID: rep.ReportID, Domain: "bad.s.lab", Range: rep.DateRange}
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		if err = s.Send(context.Background(), u, msg, reporter.Gzip(body)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("submitting to Postfix's smtpd: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The same report, unsigned (the DKIM-Signature header removed).
	signed, _ := s.Compose("tlsrpt@reports.s.lab", &reporter.Message{ReportID: "pipe-2@sender.s.lab", Domain: "bad.s.lab", Range: rep.DateRange}, reporter.Gzip(body))
	unsigned := signed[strings.Index(string(signed), "\r\nFrom:")+2:]
	if err := smtp.SendMail(net.JoinHostPort(smtpdIP, "2525"), nil, "tlsrpt-noreply@sender.s.lab", []string{"tlsrpt@reports.s.lab"}, unsigned); err != nil {
		t.Fatalf("submitting the unsigned report: %v", err)
	}

	dbPath := filepath.Join(root, "var/lib/mailtls/tlsrpt-received.db")
	var logText string
	for deadline := time.Now().Add(60 * time.Second); ; {
		b, _ := os.ReadFile(logFile)
		logText = string(b)
		if strings.Count(logText, "relay=tlsrpt") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix did not hand both messages to the tlsrpt transport in 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(logText, "status=sent (delivered via tlsrpt service") {
		t.Errorf("the signed report was not delivered by the pipe")
	}
	if !strings.Contains(logText, "status=bounced") || !strings.Contains(logText, "TLS report rejected") {
		t.Errorf("the unsigned report's rejection is not in Postfix's log")
	}
	st, err := receiver.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.Count(context.Background()); n != 1 {
		t.Fatalf("%d reports in the store, want 1", n)
	}
	sum, err := st.Summary(context.Background(), receiver.SummaryQuery{Domain: "bad.s.lab"})
	if err != nil || len(sum.Rows) != 1 || sum.Rows[0].Successful != 4 || sum.Rows[0].Failed != 2 {
		t.Fatalf("stored: %+v %v", sum, err)
	}
	for _, l := range strings.Split(logText, "\n") {
		if strings.Contains(l, "relay=tlsrpt") {
			t.Logf("postfix: %s", l)
		}
	}
}
