package postfix310

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
	"github.com/mailtls/mailtls/tlsrpt/schemacheck"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// Root is the Debian 13 root with postfix and libtlsrpt0 (scripts/install-test-deps.sh).
const Root = "/var/cache/mailtls-test/trixie-postfix-tlsrpt0"

// loopback returns a random 127/8 address on which port is free.
func loopback(t *testing.T, port string) (string, net.Listener) {
	for range 50 {
		ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(254))
		if ln, err := net.Listen("tcp", net.JoinHostPort(ip, port)); err == nil {
			return ip, ln
		}
	}
	t.Fatal("no free loopback address")
	return "", nil
}

// dnsForwarder answers on ip:53 (UDP and TCP) by asking upstream: the lab's DNS server
// listens on a random port, and glibc's resolver (Postfix) only speaks to port 53.
func dnsForwarder(t *testing.T, upstream string) string {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(r, upstream)
		if err != nil {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeServerFailure)
			w.WriteMsg(m)
			return
		}
		w.WriteMsg(resp)
	})
	ip, ln := loopback(t, "53")
	pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "53"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{Listener: ln, Handler: h}, {PacketConn: pc, Handler: h}} {
		go s.ActivateAndServe()
		t.Cleanup(func() { s.Shutdown() })
	}
	return ip
}

// smtpSink is a receiving MX on ip:25 offering STARTTLS with cert; it accepts any mail.
func smtpSink(t *testing.T, ln net.Listener, name string, cert tls.Certificate) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(c, name, cert)
		}
	}()
}

func serveSMTP(c net.Conn, name string, cert tls.Certificate) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	say := func(s string) { io.WriteString(c, s+"\r\n") }
	say("220 " + name + " ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-" + name)
			say("250 STARTTLS")
		case cmd == "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
			if tc.Handshake() != nil {
				return
			}
			c, r = tc, bufio.NewReader(tc)
			say = func(s string) { io.WriteString(c, s+"\r\n") }
		case cmd == "DATA":
			say("354 go")
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
			}
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func run(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPostfix310TLSRPT: real Postfix 3.10.13 delivers to two MTA-STS enforce domains
// that publish TLSRPT, with policies from mailtls's postfix-tlsrpt profile: one MX with a
// certificate the sender trusts (success), one with a self-signed certificate (failure).
// Postfix's own datagrams reach mailtls's collector; the day's reports match the RFC 8460
// schema and carry one successful session for the first domain and one failed session
// with the validation failure Postfix saw for the second.
func TestPostfix310TLSRPT(t *testing.T) {
	testenv.Root(t, "chroot into the Debian 13 root, ports 25 and 53 on loopback")
	testenv.LookPath(t, "chroot", "coreutils")
	if _, err := os.Stat(filepath.Join(Root, "usr/sbin/postfix")); err != nil {
		testenv.Missing(t, "no Debian 13 root with Postfix 3.10 at "+Root+" (scripts/install-test-deps.sh builds it)")
	}
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", Root, root).CombinedOutput(); err != nil {
		t.Fatalf("copy root: %v %s", err, out)
	}

	l := lab.New(t)
	goodIP, goodLn := loopback(t, "25")
	badIP, badLn := loopback(t, "25")
	l.STS("good.s.lab", "1", lab.Policy("enforce", 86400, "mail.good.s.lab"))
	l.STS("bad.s.lab", "1", lab.Policy("enforce", 86400, "mail.bad.s.lab"))
	l.DNS.Add(
		"good.s.lab. 300 IN MX 10 mail.good.s.lab.", "mail.good.s.lab. 300 IN A "+goodIP,
		`_smtp._tls.good.s.lab. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.s.lab"`,
		"bad.s.lab. 300 IN MX 10 mail.bad.s.lab.", "mail.bad.s.lab. 300 IN A "+badIP,
		`_smtp._tls.bad.s.lab. 300 IN TXT "v=TLSRPTv1; rua=https://rpt.bad.s.lab/tlsrpt"`,
	)
	smtpSink(t, goodLn, "mail.good.s.lab", l.CA.Leaf(t, "mail.good.s.lab"))
	smtpSink(t, badLn, "mail.bad.s.lab", testpki.NewCA(t, "self-signed").Leaf(t, "mail.bad.s.lab"))
	nsIP := dnsForwarder(t, l.DNS.Addr)
	// The DKIM key mailed reports are signed with, published in the test's DNS.
	dkimPub, dkimKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	l.DNS.Add(`tlsrpt._domainkey.sender.s.lab. 300 IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(dkimPub) + `"`)
	smtpdIP, smtpdLn := loopback(t, "2525")
	smtpdLn.Close() // Postfix's smtpd takes the address

	spool := filepath.Join(root, "var/spool/postfix")
	// Postfix 3.10 in the root: no listener, no chroot, DNS through the forwarder, the lab CA
	// trusted, policies from mailtls, TLSRPT on.
	os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte("nameserver "+nsIP+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/mailtls-lab-ca.pem"), l.CA.PEM, 0o644)
	os.WriteFile(filepath.Join(root, "etc/mailname"), []byte("sender.s.lab\n"), 0o644)
	run(t, root, "postconf", "-e",
		"myhostname=sender.s.lab", "mydestination=", "inet_interfaces=loopback-only", "inet_protocols=ipv4",
		"maillog_file=/var/log/postfix.log", "smtp_dns_support_level=enabled",
		"smtp_tls_security_level=may", "smtp_tls_CAfile=/etc/mailtls-lab-ca.pem", "smtp_tls_loglevel=1",
		"smtp_tls_policy_maps=socketmap:unix:/run/mailtls.sock:postfix-tlsrpt",
		"smtp_tlsrpt_enable=yes", "smtp_tlsrpt_socket_name=run/tlsrpt/tlsrpt.sock",
		"alias_maps=", "alias_database=", "smtp_host_lookup=dns", "maximal_backoff_time=10s", "minimal_backoff_time=5s")
	run(t, root, "postconf", "-F", "*/*/chroot=n")
	run(t, root, "postconf", "-MX", "smtp/inet")
	// Reports by mail come back into this Postfix: an smtpd on smtpdIP:2525 and a local
	// mailbox for rpt@reports.s.lab.
	run(t, root, "postconf", "-e", "mydestination=reports.s.lab", "local_recipient_maps=proxy:unix:passwd.byname")
	run(t, root, "postconf", "-M", smtpdIP+":2525/inet="+smtpdIP+":2525 inet n - n - - smtpd")
	run(t, root, "useradd", "-m", "rpt")
	run(t, root, "postfix", "start")
	defer exec.Command("chroot", root, "postfix", "stop").Run()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(root, "var/log/postfix.log"))
			t.Logf("postfix log:\n%s", b)
		}
	}()
	// mailtls: the postfix-tlsrpt profile on a Unix socket and the collector's socket, both
	// inside the root where Postfix (unchrooted in it) finds them; started after Postfix,
	// which creates its spool directories with their owners.
	state := t.TempDir()
	yaml := strings.Replace(l.Config("", "127.0.0.1:0", state), `  socketmap: [{tcp: "127.0.0.1:0"}]`,
		`  socketmap: [{unix: "`+root+`/run/mailtls.sock", mode: "0666"}]`, 1) + fmt.Sprintf(`
tlsrpt:
  enabled: true
  socket: %s/run/tlsrpt/tlsrpt.sock
  mode: "0666"
  organization: mailtls test
  contact: mailto:postmaster@sender.s.lab
  submitter: sender.s.lab
`, spool)
	cfg, err := config.Parse([]byte(yaml), "postfix310.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(spool, "run/tlsrpt/tlsrpt.sock")); err == nil {
			if _, err := os.Stat(filepath.Join(root, "run/mailtls.sock")); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("mailtls sockets not there")
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, rcpt := range []string{"user@good.s.lab", "user@bad.s.lab"} {
		cmd := exec.Command("chroot", root, "/usr/sbin/sendmail", "-f", "sender@sender.s.lab", rcpt)
		cmd.Stdin = strings.NewReader("Subject: tlsrpt test\r\n\r\nhello\r\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sendmail: %v %s", err, out)
		}
	}

	// Wait for both domains' results in the collector's store.
	today := time.Now().UTC().Format(time.DateOnly)
	st, err := store.Open(cfg.TLSRPTPath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var groups []store.DayGroup
	for deadline := time.Now().Add(90 * time.Second); ; {
		if groups, err = st.Day(context.Background(), today); err != nil {
			t.Fatal(err)
		}
		if len(groups) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector has %+v after 90 s", groups)
		}
		time.Sleep(500 * time.Millisecond)
	}
	chk, err := schemacheck.New()
	if err != nil {
		t.Fatal(err)
	}
	org := reporter.Org{Name: "mailtls test", Contact: "mailto:postmaster@sender.s.lab", Submitter: "sender.s.lab"}
	for _, g := range groups {
		rep, err := reporter.Build(g, org)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(rep)
		if err := chk.Validate(body); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		t.Logf("report from Postfix 3.10's datagrams: %s", body)
		if g.Domain == "bad.s.lab" {
			mailReport(t, root, smtpdIP, l.DNS.Addr, dkimKey, org, rep, body)
		}
		p := rep.Policies[0]
		if len(rep.Policies) != 1 || p.Policy.Type != tlsrpt.PolicySTS || p.Policy.Domain != g.Domain || len(p.Policy.MXHost) != 1 {
			t.Fatalf("%s: policies %+v", g.Domain, rep.Policies)
		}
		switch g.Domain {
		case "good.s.lab":
			if p.Summary.Successful < 1 || p.Summary.Failed != 0 || g.Record != "v=TLSRPTv1; rua=mailto:tlsrpt@good.s.lab" {
				t.Errorf("good.s.lab: %+v record %q", p.Summary, g.Record)
			}
		case "bad.s.lab":
			if p.Summary.Successful != 0 || p.Summary.Failed < 1 || len(p.FailureDetails) == 0 ||
				(p.FailureDetails[0].ResultType != tlsrpt.ValidationFailure && p.FailureDetails[0].ResultType != tlsrpt.CertificateNotTrusted) ||
				p.FailureDetails[0].ReceivingIP != badIP || p.FailureDetails[0].ReceivingMXHostname != "mail.bad.s.lab" {
				t.Errorf("bad.s.lab: %+v", p)
			}
		default:
			t.Errorf("unexpected domain %s", g.Domain)
		}
	}
}

// mailReport sends the report with reporter.MailSender (DKIM-signed with key) through the
// real Postfix's smtpd into the local mailbox of rpt@reports.s.lab, then checks the message
// Postfix delivered: its DKIM signature verifies against the key published in the test's
// DNS server (dnsAddr), and it carries the RFC 8460 §5.3 headers.
func mailReport(t *testing.T, root, smtpdIP, dnsAddr string, key ed25519.PrivateKey, org reporter.Org, rep *tlsrpt.Report, body []byte) {
	t.Helper()
	s := &reporter.MailSender{Relay: net.JoinHostPort(smtpdIP, "2525"), HeloName: "sender.s.lab", From: "tlsrpt-noreply@sender.s.lab", Org: org,
		DKIM: &dkim.SignOptions{Domain: "sender.s.lab", Selector: "tlsrpt", Signer: key}}
	u, _ := tlsrpt.ParseRUA("mailto:rpt@reports.s.lab")
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
	var mbox []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		mbox, _ = os.ReadFile(filepath.Join(root, "var/mail/rpt"))
		if bytes.Contains(mbox, []byte("TLS-Report-Domain")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report in rpt's mailbox: %q", mbox)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// One mbox message: drop the "From " separator line, back to CRLF.
	_, m, _ := bytes.Cut(mbox, []byte("\n"))
	m = bytes.ReplaceAll(bytes.TrimRight(m, "\n"), []byte("\n"), []byte("\r\n"))
	lookup := func(name string) ([]string, error) {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
		r, err := dns.Exchange(q, dnsAddr)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, rr := range r.Answer {
			if txt, ok := rr.(*dns.TXT); ok {
				out = append(out, strings.Join(txt.Txt, ""))
			}
		}
		return out, nil
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(m), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "sender.s.lab" {
		t.Fatalf("DKIM of the delivered report: %v %+v\n%s", err, vs, m)
	}
	for _, h := range []string{"TLS-Report-Domain: bad.s.lab", "TLS-Report-Submitter: sender.s.lab", "TLS-Required: No", `report-type="tlsrpt"`, "application/tlsrpt+gzip"} {
		if !bytes.Contains(m, []byte(h)) {
			t.Errorf("delivered report lacks %q", h)
		}
	}
	t.Logf("report mailed through Postfix 3.10 into a local mailbox; DKIM verified (d=sender.s.lab, s=tlsrpt) against the test DNS")
}
