package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/internal/testpki"
)

// Addresses inside the namespace: every host of the topology has its own loopback address.
const (
	addrUnbound   = "127.0.0.1" // validating resolver, port 53; the sender Postfix and mailtls also live here
	addrKnot      = "127.0.0.2" // authoritative DNS, port 53
	addrPolicy    = "127.0.0.3" // MTA-STS policy hosts, port 443
	addrReceiver  = "127.0.1.1" // receiving Postfix, port 25
	socketmapAddr = "127.0.0.1:8461"
	httpAPIAddr   = "127.0.0.1:8462" // mailtls's HTTP JSON API (api.http), for MTAs other than Postfix
	readsocketTCP = "127.0.0.1:8463" // mailtls's line protocol for Exim's ${readsocket} (api.readsocket)
	// nobody: the receiver's virtual(8) delivers as this user.
	mailboxUID = 65534
)

// binaries are the programs the suite runs: its own builds and the installed servers.
type binaries struct {
	mailtls, stripper, policyhost, netprobe          string
	postfix, postconf, postqueue, postmap, swaks, ip string
	knotd, unbound                                   string
}

// lookBinaries finds the installed programs, skipping (or failing in CI) when one is missing.
func lookBinaries(t *testing.T) binaries {
	t.Helper()
	return binaries{
		ip:        testenv.LookPath(t, "ip", "Debian package iproute2"),
		postfix:   testenv.LookPath(t, "postfix", "Debian package postfix"),
		postconf:  testenv.LookPath(t, "postconf", "Debian package postfix"),
		postqueue: testenv.LookPath(t, "postqueue", "Debian package postfix"),
		postmap:   testenv.LookPath(t, "postmap", "Debian package postfix"),
		swaks:     testenv.LookPath(t, "swaks", "Debian package swaks"),
		knotd:     testenv.LookPath(t, "knotd", "Debian package knot"),
		unbound:   testenv.LookPath(t, "unbound", "Debian package unbound"),
	}
}

// build compiles mailtls and the suite's helper programs into dir.
func (b *binaries) build(t *testing.T, dir string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", dir+"/", "./cmd/mailtls", "./e2e/cmd/stripper", "./e2e/cmd/policyhost", "./e2e/cmd/netprobe")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b.mailtls = filepath.Join(dir, "mailtls")
	b.stripper = filepath.Join(dir, "stripper")
	b.policyhost = filepath.Join(dir, "policyhost")
	b.netprobe = filepath.Join(dir, "netprobe")
}

// world is the running topology.
type world struct {
	dir  string // everything the run writes; world-readable so Postfix's users can traverse it
	logs string
	bin  binaries
	ns   *netns

	ca     *testpki.CA
	caFile string

	receiver *postfix
	vmail    string // receiver's virtual_mailbox_base
	sender   *postfix
	mailtls  *proc
	paths    map[string]*proc // MX host name → the stripper process on its address
}

// writePEM writes a leaf for names from the test CA and returns the cert and key paths.
func (w *world) writePEM(t *testing.T, base string, names ...string) (certFile, keyFile string) {
	t.Helper()
	c, k := w.ca.LeafPEM(t, names...)
	certFile, keyFile = filepath.Join(w.dir, "pki", base+".crt"), filepath.Join(w.dir, "pki", base+".key")
	must(t, os.WriteFile(certFile, c, 0o644))
	must(t, os.WriteFile(keyFile, k, 0o600))
	return certFile, keyFile
}

// spkiSHA256 is the TLSA "3 1 1" association data of a PEM certificate (RFC 6698 §2.1:
// selector 1 = SubjectPublicKeyInfo, matching type 1 = SHA-256).
func spkiSHA256(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	must(t, err)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", certFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	must(t, err)
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// startReceiver runs the receiving Postfix: STARTTLS with a certificate from the test CA
// for every MX name, mail for the test domains into one Maildir.
func (w *world) startReceiver(t *testing.T, certFile, keyFile string, domains []string) {
	t.Helper()
	w.vmail = filepath.Join(w.dir, "vmail")
	must(t, os.MkdirAll(w.vmail, 0o755))
	must(t, os.Chown(w.vmail, mailboxUID, mailboxUID))
	w.receiver = w.newPostfix(t, "receiver", []string{
		"myhostname = receiver.e2e.test",
		"inet_interfaces = " + addrReceiver,
		"mynetworks = " + addrReceiver + "/32",
		"smtpd_tls_security_level = may",
		"smtpd_tls_cert_file = " + certFile,
		"smtpd_tls_key_file = " + keyFile,
		"smtpd_tls_loglevel = 1",
		// Received: … with ESMTPS, and the TLS protocol and cipher, in each delivered message.
		"smtpd_tls_received_header = yes",
		"virtual_mailbox_domains = " + strings.Join(domains, " "),
		"virtual_mailbox_base = " + w.vmail,
		"virtual_mailbox_maps = static:inbox/",
		fmt.Sprintf("virtual_uid_maps = static:%d", mailboxUID),
		fmt.Sprintf("virtual_gid_maps = static:%d", mailboxUID),
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
	})
	// The smart-host scenario's relays connect on port 587: a second smtpd listener.
	w.receiver.postconf(t, "-M", relayPort+"/inet="+relayPort+" inet n - n - - smtpd")
	w.receiver.postfixCmd(t, "reload")
	if err := w.ns.wait(w.bin.netprobe, addrReceiver+":"+relayPort); err != nil {
		t.Fatalf("receiver on port %s: %v", relayPort, err)
	}
}

// startSender runs the sending Postfix configured as README.md tells users to, plus what a
// test instance needs: no automatic retries (the test flushes the queue itself) and no
// connection reuse across scenarios.
func (w *world) startSender(t *testing.T) {
	t.Helper()
	// Mail for each relay's domain goes to that relay as a smart host on port 587: Postfix
	// asks the policy map for "[relay]:587".
	transport := filepath.Join(w.dir, "transport")
	var routes []string
	for _, r := range []string{relayNoTLSA, relayGood, relayBad} {
		routes = append(routes, r+" smtp:["+r+"]:"+relayPort)
	}
	must(t, os.WriteFile(transport, []byte(strings.Join(routes, "\n")+"\n"), 0o644))
	w.sender = w.newPostfix(t, "sender", []string{
		"transport_maps = texthash:" + transport,
		"myhostname = sender.e2e.test",
		"inet_interfaces = 127.0.0.1",
		"mynetworks = 127.0.0.0/8",
		// README.md, "Postfix configuration":
		"smtp_dns_support_level = dnssec",
		"smtp_tls_security_level = may",
		"smtp_tls_policy_maps = socketmap:inet:" + socketmapAddr + ":postfix",
		"smtp_tls_CAfile = " + w.caFile,
		"smtp_tls_loglevel = 1",
		// Test instance: Postfix probes a signed name at start-up to see that DNSSEC works;
		// the namespace has no root zone, so probe the signed test zone.
		"dnssec_probe = ns:dane.test",
		"smtp_connection_cache_on_demand = no",
		"smtp_connect_timeout = 5s",
		"queue_run_delay = 1h",
		"minimal_backoff_time = 1h",
		"maximal_backoff_time = 1h",
		// The control of scenario 5: mail from senderControl leaves through smtp-nodane,
		// whose policy map is mailtls's nodane profile (DANE stage off).
		"sender_dependent_default_transport_maps = inline:{" + senderControl + "=smtp-nodane}",
	}, "smtp-nodane unix - - n - - smtp -o smtp_tls_policy_maps=socketmap:inet:"+socketmapAddr+":nodane -o syslog_name="+nodaneSyslogName)
}

// Envelope senders of the test messages.
const (
	senderDefault = "e2e@sender.e2e.test"
	senderControl = "control@sender.e2e.test"
	// nodaneSyslogName names the control transport's processes in the sender's log.
	nodaneSyslogName = "postfix-e2e-sender/nodane"
)

// mailtlsConfig is the daemon's configuration: the namespace's Unbound, the test CA for
// policy hosts, DNSSEC self-check names from the test zones.
func (w *world) writeMailtlsConfig(t *testing.T) string {
	t.Helper()
	state := filepath.Join(w.dir, "mailtls")
	must(t, os.MkdirAll(state, 0o700))
	conf := fmt.Sprintf(`state_dir: %s
log: {level: debug}
resolver: {servers: ["%s:53"], timeout: 2s}
dane: {check_signed: "%s", check_bogus: "%s"}
mta_sts: {ca_file: %s, fetch_timeout: 5s, allow_addresses: ["127.0.0.0/8"]}
listen:
  socketmap: [{tcp: "%s"}]
api:
  http: "%s"
  readsocket: [{tcp: "%s"}]
profiles:
  nodane: {dane: "off"}
`, state, addrUnbound, checkSigned, checkBogus, w.caFile, socketmapAddr, httpAPIAddr, readsocketTCP)
	p := filepath.Join(w.dir, "mailtls.yaml")
	must(t, os.WriteFile(p, []byte(conf), 0o644))
	return p
}

// startMailtls runs the daemon and waits for its listeners: socketmap, HTTP API and
// readsocket.
func (w *world) startMailtls(t *testing.T) {
	t.Helper()
	w.mailtls = w.ns.start(t, "mailtls", w.logs, w.bin.mailtls, "serve", "-config", filepath.Join(w.dir, "mailtls.yaml"))
	for _, addr := range []string{socketmapAddr, httpAPIAddr, readsocketTCP} {
		if err := w.ns.wait(w.bin.netprobe, addr); err != nil {
			t.Fatalf("mailtls did not listen on %s: %v", addr, err)
		}
	}
}

// setPath puts a stripper process in mode (relay, strip, wrongcert) on the address of MX
// host mx, replacing the one there.
func (w *world) setPath(t *testing.T, mx, mode string) {
	t.Helper()
	ip := pathAddrs()[mx]
	if p := w.paths[mx]; p != nil {
		p.stop()
	}
	args := []string{"-listen", ip + ":25", "-upstream", addrReceiver + ":25", "-mode", mode}
	if mode == "wrongcert" {
		c, k := filepath.Join(w.dir, "pki", "attacker.crt"), filepath.Join(w.dir, "pki", "attacker.key")
		args = append(args, "-cert", c, "-key", k)
	}
	w.paths[mx] = w.ns.start(t, "path-"+mx, w.logs, w.bin.stripper, args...)
	if err := w.ns.wait(w.bin.netprobe, ip+":25"); err != nil {
		t.Fatalf("path %s: %v", mx, err)
	}
}

// answer is what mailtls tells Postfix for domain under the postfix profile, as
// postmap(1) sees it: the reply text, or "NOTFOUND".
func (w *world) answer(t *testing.T, domain string) string {
	t.Helper()
	return w.answerFor(t, domain, "postfix")
}

// answerFor is answer under profile (the socketmap name).
func (w *world) answerFor(t *testing.T, domain, profile string) string {
	t.Helper()
	cmd := w.ns.command(w.bin.postmap, "-c", w.sender.conf, "-q", domain, "socketmap:inet:"+socketmapAddr+":"+profile)
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return strings.TrimSpace(string(out))
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return "NOTFOUND"
	}
	t.Fatalf("postmap -q %s: %v", domain, err)
	return ""
}

// delivered counts the messages carrying token in the receiver's mailbox.
func (w *world) delivered(t *testing.T, token string) int {
	t.Helper()
	return len(w.messages(t, token))
}

// messages returns the messages carrying token in the receiver's mailbox.
func (w *world) messages(t *testing.T, token string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(w.vmail, "inbox", sub, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			must(t, err)
			if strings.Contains(string(b), token) {
				out = append(out, string(b))
			}
		}
	}
	return out
}

// receivedByReceiver returns the Received: header the receiving Postfix added (the
// topmost one), unfolded onto one line.
func receivedByReceiver(msg string) string {
	head, _, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	lines := strings.Split(head, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "Received:") {
			continue
		}
		h := l
		for _, c := range lines[i+1:] {
			if c == "" || (c[0] != ' ' && c[0] != '\t') {
				break
			}
			h += " " + strings.TrimSpace(c)
		}
		return h
	}
	return ""
}
