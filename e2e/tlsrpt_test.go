package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
	"github.com/mailtls/mailtls/tlsrpt/schemacheck"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// trixieRoot is the Debian 13 root with Postfix 3.10 and libtlsrpt0 that
// scripts/install-test-deps.sh builds with mmdebstrap.
const trixieRoot = "/var/cache/mailtls-test/trixie-postfix-tlsrpt0"

// tlsrptRecords publishes a TLSRPT record (RFC 8460 §3) for each domain, in its zone.
func tlsrptRecords(domains ...string) []string {
	var out []string
	for _, d := range domains {
		out = append(out, fmt.Sprintf(`_smtp._tls.%s. TXT "%s"`, d, tlsrptRecord(d)))
	}
	return out
}

func tlsrptRecord(domain string) string { return "v=TLSRPTv1; rua=mailto:tlsrpt@" + domain }

// sender310 is Postfix 3.10 (linked against libtlsrpt) from a copy of the Debian 13 root,
// run chrooted in it inside the namespace: a second sending MTA beside the suite's 3.7.
type sender310 struct {
	w         *world
	root      string
	chrootBin string
}

// chroot runs args (a program of the root) chrooted in the root, inside the namespace.
func (s *sender310) chroot(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.w.ns.command(s.chrootBin, append([]string{s.root}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *sender310) maillog() string {
	b, _ := os.ReadFile(filepath.Join(s.root, "var/log/postfix.log"))
	return string(b)
}

// startSender310 copies the Debian 13 root into the run's directory and configures its
// Postfix as the README's "TLS reports you send" says: the postfix-tlsrpt profile of the
// namespace's mailtls, smtp_tlsrpt_enable, the collector's socket in its queue directory;
// DNS from the namespace's validating Unbound, the test CA trusted. No smtpd; no automatic
// retries and no connection reuse, so every message is exactly one TLS attempt.
func (w *world) startSender310(t *testing.T) *sender310 {
	t.Helper()
	chrootBin := testenv.LookPath(t, "chroot", "coreutils")
	if _, err := os.Stat(filepath.Join(trixieRoot, "usr/sbin/postfix")); err != nil {
		testenv.Missing(t, "no Debian 13 root with Postfix 3.10 at "+trixieRoot+" (scripts/install-test-deps.sh builds it)")
	}
	s := &sender310{w: w, root: filepath.Join(w.dir, "trixie"), chrootBin: chrootBin}
	if out, err := exec.Command("cp", "-a", trixieRoot, s.root).CombinedOutput(); err != nil {
		t.Fatalf("copy root: %v %s", err, out)
	}
	ca, err := os.ReadFile(w.caFile)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(s.root, "etc/mailtls-e2e-ca.pem"), ca, 0o644))
	must(t, os.WriteFile(filepath.Join(s.root, "etc/resolv.conf"), []byte("nameserver "+addrUnbound+"\noptions edns0 trust-ad\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(s.root, "etc/mailname"), []byte("sender310.e2e.test\n"), 0o644))
	s.chroot(t, "postconf", "-e",
		"myhostname=sender310.e2e.test", "mydestination=", "inet_interfaces=127.0.0.1", "inet_protocols=ipv4",
		"alias_maps=", "alias_database=", "maillog_file=/var/log/postfix.log",
		"smtp_dns_support_level=dnssec", "dnssec_probe=ns:dane.test",
		"smtp_tls_security_level=may", "smtp_tls_CAfile=/etc/mailtls-e2e-ca.pem", "smtp_tls_loglevel=1",
		"smtp_tls_policy_maps=socketmap:inet:"+socketmapAddr+":postfix-tlsrpt",
		"smtp_tlsrpt_enable=yes", "smtp_tlsrpt_socket_name=run/tlsrpt/tlsrpt.sock",
		"smtp_connection_cache_on_demand=no", "smtp_connect_timeout=5s",
		"queue_run_delay=1h", "minimal_backoff_time=1h", "maximal_backoff_time=1h")
	s.chroot(t, "postconf", "-F", "*/*/chroot=n")
	s.chroot(t, "postconf", "-MX", "smtp/inet")
	s.chroot(t, "postfix", "start")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- Postfix 3.10 maillog\n%s", tail(s.maillog(), 80))
		}
		s.w.ns.command(s.chrootBin, s.root, "postfix", "stop").Run()
	})
	return s
}

// send submits a message for rcpt with the root's sendmail and waits (bounded) for the
// n-th TLSRPT result Postfix logs for domain, which it logs as it sends the datagram.
func (s *sender310) send(t *testing.T, rcpt, domain string, n int) string {
	t.Helper()
	cmd := s.w.ns.command(s.chrootBin, s.root, "/usr/sbin/sendmail", "-f", senderDefault, rcpt)
	cmd.Stdin = strings.NewReader("Subject: mailtls e2e tlsrpt\r\nTLS-Report-Test: " + domain + "\r\n\r\nhello\r\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sendmail: %v %s", err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		var got []string
		for _, l := range strings.Split(s.maillog(), "\n") {
			if strings.Contains(l, "TLSRPT: status=") && strings.Contains(l, "domain="+domain+",") {
				got = append(got, l)
			}
		}
		if len(got) >= n {
			t.Logf("Postfix 3.10: %s", got[n-1])
			return got[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix 3.10 logged %d TLSRPT results for %s within 60 s, want %d", len(got), domain, n)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// enableTLSRPT restarts mailtls with its collector on the datagram socket inside the
// 3.10 root's queue directory, and returns the configuration it runs with.
func (w *world) enableTLSRPT(t *testing.T, s *sender310) *config.Config {
	t.Helper()
	p := filepath.Join(w.dir, "mailtls.yaml")
	b, err := os.ReadFile(p)
	must(t, err)
	sock := filepath.Join(s.root, "var/spool/postfix/run/tlsrpt/tlsrpt.sock")
	b = append(b, fmt.Sprintf(`tlsrpt:
  enabled: true
  socket: %s
  mode: "0666"
  organization: mailtls e2e
  contact: mailto:postmaster@sender310.e2e.test
  submitter: sender310.e2e.test
`, sock)...)
	must(t, os.WriteFile(p, b, 0o644))
	cfg, err := config.Parse(b, p)
	must(t, err)
	w.mailtls.stop()
	w.startMailtls(t)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			return cfg
		}
		if time.Now().After(deadline) {
			t.Fatal("mailtls did not create the collector's socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tlsrptWant is what the day's report for one policy domain must say.
type tlsrptWant struct {
	policyType   tlsrpt.PolicyType
	policyDomain string // for tlsa, Postfix names the TLSA base domain (the MX host)
	ok, failed   int64
	details      map[string]int64 // result type → failed-session-count
	mx, ip       string           // receiving-mx-hostname and receiving-ip of every detail
}

// scenarioTLSRPT: Postfix 3.10 sends through the network's scenarios with TLS reporting
// on; its datagrams reach mailtls's collector, and the day's reports built from the
// collector's store carry, per policy domain, the result types and counts of what
// happened, and pass the RFC 8460 §4 schema.
func (w *world) scenarioTLSRPT(t *testing.T) {
	s := w.startSender310(t)
	cfg := w.enableTLSRPT(t, s)
	mxEnforce := "mx." + domEnforce

	// Honest MTA-STS, then the stripper on the same domain's MX.
	w.setPath(t, mxEnforce, "relay")
	w.expectAnswer(t, domEnforce, "secure match="+mxEnforce)
	s.send(t, "user@"+domEnforce, domEnforce, 1)
	w.setPath(t, mxEnforce, "strip")
	s.send(t, "user@"+domEnforce, domEnforce, 2)
	w.setPath(t, mxEnforce, "relay")
	// The wrong-name certificate (the attacker's path is in mode wrongcert throughout).
	s.send(t, "user@"+domWrongName, domWrongName, 1)
	// Honest DANE, and a TLSA record that matches nothing.
	s.send(t, "user@"+domDaneGood, domDaneGood, 1)
	s.send(t, "user@"+domDaneBad, domDaneBad, 1)

	// Hand-computed from the five messages above. Postfix 3.10 reports the TLSA record
	// that matches no certificate as certificate-not-trusted (the record itself is valid
	// and DNSSEC-signed, so neither tlsa-invalid nor dane-required), and names the TLSA
	// base domain (the MX host) as the tlsa policy's policy-domain.
	mxGood, mxBad := "mx."+domDaneGood, "mx."+domDaneBad
	want := map[string]tlsrptWant{
		domEnforce: {policyType: tlsrpt.PolicySTS, policyDomain: domEnforce, ok: 1, failed: 1,
			details: map[string]int64{string(tlsrpt.StartTLSNotSupported): 1}, mx: mxEnforce, ip: pathAddrs()[mxEnforce]},
		domWrongName: {policyType: tlsrpt.PolicySTS, policyDomain: domWrongName, failed: 1,
			details: map[string]int64{string(tlsrpt.CertificateHostMismatch): 1}, mx: "mx." + domWrongName, ip: pathAddrs()["mx."+domWrongName]},
		domDaneGood: {policyType: tlsrpt.PolicyTLSA, policyDomain: mxGood, ok: 1, details: map[string]int64{}},
		domDaneBad: {policyType: tlsrpt.PolicyTLSA, policyDomain: mxBad, failed: 1,
			details: map[string]int64{string(tlsrpt.CertificateNotTrusted): 1}, mx: mxBad, ip: addrReceiver},
	}
	// The collector writes behind: wait (bounded) until every domain's sessions are in.
	st, err := store.Open(cfg.TLSRPTPath())
	must(t, err)
	defer st.Close()
	today := time.Now().UTC().Format(time.DateOnly)
	var groups []store.DayGroup
	for deadline := time.Now().Add(30 * time.Second); ; {
		groups, err = st.Day(context.Background(), today)
		must(t, err)
		var n int64
		for _, g := range groups {
			for _, p := range g.Policies {
				n += p.Counts.OK + p.Counts.Failed
			}
		}
		if n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector holds %d sessions after 30 s, want 5: %+v", n, groups)
		}
		time.Sleep(200 * time.Millisecond)
	}
	chk, err := schemacheck.New()
	must(t, err)
	org := reporter.Org{Name: "mailtls e2e", Contact: "mailto:postmaster@sender310.e2e.test", Submitter: "sender310.e2e.test"}
	seen := map[string]bool{}
	for _, g := range groups {
		rep, err := reporter.Build(g, org)
		must(t, err)
		body, err := json.MarshalIndent(rep, "", "    ")
		must(t, err)
		if err := chk.Validate(body); err != nil {
			t.Errorf("%s: report fails the schema: %v\n%s", g.Domain, err, body)
		}
		t.Logf("report for %s from Postfix 3.10's datagrams:\n%s", g.Domain, body)
		wt, ok := want[g.Domain]
		if !ok {
			t.Errorf("unexpected report for %s", g.Domain)
			continue
		}
		seen[g.Domain] = true
		if g.Record != tlsrptRecord(g.Domain) {
			t.Errorf("%s: record %q, want %q", g.Domain, g.Record, tlsrptRecord(g.Domain))
		}
		if len(rep.Policies) != 1 {
			t.Errorf("%s: %d policies, want 1: %s", g.Domain, len(rep.Policies), body)
			continue
		}
		p := rep.Policies[0]
		// The policy as Postfix copied it: for sts from mailtls's postfix-tlsrpt answer
		// (the served policy's lines), for tlsa from the TLSA records it looked up.
		wantPS := strings.Split(strings.TrimSpace(strings.ReplaceAll(policies()[g.Domain], "\r\n", "\n")), "\n")
		if wt.policyType == tlsrpt.PolicyTLSA {
			wantPS = []string{"3 1 1 " + strings.ToUpper(strings.Repeat("ab", 32))}
			if g.Domain == domDaneGood {
				wantPS = []string{"3 1 1 " + strings.ToUpper(spkiSHA256(t, filepath.Join(w.dir, "pki", "receiver.crt")))}
			}
		}
		if fmt.Sprint(p.Policy.String) != fmt.Sprint(wantPS) {
			t.Errorf("%s: policy-string %q, want %q", g.Domain, p.Policy.String, wantPS)
		}
		if p.Policy.Domain != wt.policyDomain {
			t.Errorf("%s: policy-domain %q, want %q", g.Domain, p.Policy.Domain, wt.policyDomain)
		}
		if p.Policy.Type != wt.policyType || p.Summary.Successful != wt.ok || p.Summary.Failed != wt.failed {
			t.Errorf("%s: policy %s, %d successful, %d failed; want %s, %d, %d", g.Domain, p.Policy.Type, p.Summary.Successful, p.Summary.Failed, wt.policyType, wt.ok, wt.failed)
		}
		got := map[string]int64{}
		for _, d := range p.FailureDetails {
			got[string(d.ResultType)] += d.FailedSessionCount
			if d.ReceivingMXHostname != wt.mx || d.ReceivingIP != wt.ip {
				t.Errorf("%s: failure detail for %s[%s], want %s[%s]", g.Domain, d.ReceivingMXHostname, d.ReceivingIP, wt.mx, wt.ip)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(wt.details) {
			t.Errorf("%s: failure details %v, want %v", g.Domain, got, wt.details)
		}
	}
	for d := range want {
		if !seen[d] {
			t.Errorf("no report for %s", d)
		}
	}
}
