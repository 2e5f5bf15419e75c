package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/hosting/check"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/pebbletest"
	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/mtasts"
)

// hostingIP finds a loopback address whose port 443 is free, for a policy host.
func hostingIP(t *testing.T) string {
	t.Helper()
	for range 20 {
		ip := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(99), rand.IntN(256), 1+rand.IntN(254))
		if ln, err := net.Listen("tcp", net.JoinHostPort(ip, "443")); err == nil {
			ln.Close()
			return ip
		}
	}
	t.Fatal("no loopback address with port 443 free")
	return ""
}

// The end-to-end test of the policy host: one mailtls hosts hosted.test (mx:
// auto, a certificate file); `mailtls hosting records` prints the records, which go into
// the DNS as printed; a second mailtls (the resolver role) fetches and enforces the
// policy; curl fetches it with its headers checked; `hosting check` passes; metrics and
// the audit file show the requests and the served id; a SIGHUP with a new mode changes
// the id (audited) and a replaced certificate file is served.
func TestHostingServedToResolver(t *testing.T) {
	l := lab.New(t) // root: port 443
	curl := testenv.LookPath(t, "curl", "apt-get install curl")
	bin := buildBinary(t)
	ip := hostingIP(t)

	// The hosting mailtls.
	hdir := t.TempDir()
	writeCert := func() {
		certPEM, keyPEM := l.CA.LeafPEM(t, "mta-sts.hosted.test")
		os.WriteFile(filepath.Join(hdir, "cert.pem"), certPEM, 0o600)
		os.WriteFile(filepath.Join(hdir, "key.pem"), keyPEM, 0o600)
	}
	writeCert()
	metricsAddr, hostSocketmap := lab.FreeAddr(t), lab.FreeAddr(t)
	audit := filepath.Join(hdir, "audit.log")
	hostingCfg := func(mode string) string {
		return l.Config("", hostSocketmap, hdir) + fmt.Sprintf(`metrics: {listen: "%s"}
audit: {file: %s}
hosting:
  listen: "%s:443"
  address: ["%s"]
  tlsrpt_rua: mailto:tlsrpt@hosted.test
  domains:
    - {domain: hosted.test, mode: %s, mx: auto, max_age: 86400, cert_file: %s/cert.pem, key_file: %s/key.pem}
`, metricsAddr, audit, ip, ip, mode, hdir, hdir)
	}
	hcfg := writeConfig(t, hdir, hostingCfg("enforce"))
	l.DNS.Add("hosted.test. 300 IN MX 10 mx2.hosted.test.", "hosted.test. 300 IN MX 20 mx1.hosted.test.")

	// Publish exactly what `hosting records` prints.
	out, err := exec.Command(bin, "hosting", "records", "-config", hcfg).CombinedOutput()
	if err != nil {
		t.Fatalf("hosting records: %v\n%s", err, out)
	}
	t.Logf("hosting records:\n%s", out)
	var id string
	for line := range strings.SplitSeq(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("records output %q is not zone-file syntax: %v", line, err)
		}
		l.DNS.Add(line)
		if txt, ok := rr.(*dns.TXT); ok && strings.HasPrefix(rr.Header().Name, "_mta-sts.") {
			rec, err := mtasts.ParseRecord(strings.Join(txt.Txt, ""))
			if err != nil {
				t.Fatalf("TXT record %q: %v", line, err)
			}
			id = rec.ID
		}
	}
	for _, want := range []string{"mta-sts.hosted.test.\t3600\tIN\tA\t" + ip, "_smtp._tls.hosted.test.", "v=TLSRPTv1; rua=mailto:tlsrpt@hosted.test"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("records lack %q", want)
		}
	}
	hp := startDaemon(t, bin, hcfg, hostSocketmap)

	// The resolver mailtls enforces the hosted policy.
	rdir := t.TempDir()
	rcfg := writeConfig(t, rdir, l.Config("", lab.FreeAddr(t), rdir))
	q, err := exec.Command(bin, "query", "hosted.test", "-local", "-config", rcfg).CombinedOutput()
	if err != nil {
		t.Fatalf("query: %v\n%s", err, q)
	}
	for _, want := range []string{"reply:   OK secure match=mx1.hosted.test:mx2.hosted.test servername=hostname", "source:  mta-sts", "id " + id} {
		if !strings.Contains(string(q), want) {
			t.Errorf("resolver's answer lacks %q:\n%s", want, q)
		}
	}

	// curl, a third-party client, with the response headers checked.
	c, err := exec.Command(curl, "-sS", "--max-time", "10", "-D", "-", "--cacert", l.CAFile,
		"--resolve", "mta-sts.hosted.test:443:"+ip, "https://mta-sts.hosted.test/.well-known/mta-sts.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, c)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(c), "\r\n", "\n"), "\n\n")
	head = strings.ToLower(head)
	for _, want := range []string{" 200", "content-type: text/plain\n", "cache-control: no-cache", "x-content-type-options: nosniff", "content-length: "} {
		if !strings.Contains(head+"\n", want) {
			t.Errorf("curl headers lack %q:\n%s", want, head)
		}
	}
	if body != "version: STSv1\nmode: enforce\nmx: mx1.hosted.test\nmx: mx2.hosted.test\nmax_age: 86400\n" {
		t.Errorf("curl body %q", body)
	}
	for _, path := range []string{"/", "/.well-known/mta-sts.txt?x", "/.well-known/mta-sts.txt/"} {
		code, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert", l.CAFile,
			"--resolve", "mta-sts.hosted.test:443:"+ip, "https://mta-sts.hosted.test"+path).Output()
		if err != nil || string(code) != "404" {
			t.Errorf("curl %s: %s %v", path, code, err)
		}
	}

	// hosting check passes, in text and JSON.
	text, err := exec.Command(bin, "hosting", "check", "-cert-warn", "1h", "-config", hcfg).Output()
	if err != nil {
		t.Fatalf("hosting check: %v\n%s", err, text)
	}
	t.Logf("hosting check:\n%s", text)
	ck := exec.Command(bin, "hosting", "check", "-json", "-cert-warn", "1h", "-config", hcfg) // lab certificates last a day
	cout, err := ck.Output()
	var findings []check.Finding
	if jerr := json.Unmarshal(cout, &findings); err != nil || jerr != nil || check.Failed(findings) || len(findings) < 4 {
		t.Fatalf("hosting check: %v %v\n%s", err, jerr, cout)
	}

	// Metrics on the daemon's registry, and the audit line of the served id.
	metrics := httpGet(t, "http://"+metricsAddr+"/metrics")
	for _, want := range []string{`mailtls_hosting_requests_total{class="hosted",status="200"}`, `mailtls_hosting_requests_total{class="hosted",status="404"} 3`,
		`mailtls_hosting_certificate_expiry_timestamp_seconds{name="mta-sts.hosted.test"}`, `mailtls_hosting_domains{state="serving"} 1`,
		"mailtls_resolver_validating"} { // the resolver role's registry
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if lines := auditHosting(t, audit); len(lines) != 1 || lines[0]["new_id"] != id {
		t.Errorf("audit lines %v, want one with new_id %s", lines, id)
	}

	// SIGHUP: mode testing gives a new id (audited; check now reports the stale TXT), and a
	// new certificate file is served.
	firstSerial := servedSerial(t, ip, l)
	writeCert()
	os.WriteFile(hcfg, []byte(hostingCfg("testing")), 0o644)
	hp.cmd.Process.Signal(syscall.SIGHUP)
	var lines []map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if lines = auditHosting(t, audit); len(lines) == 2 {
			break
		}
	}
	if len(lines) != 2 || lines[1]["old_id"] != id || lines[1]["new_id"] == id || lines[1]["mode"] != "testing" {
		t.Fatalf("audit after reload: %v", lines)
	}
	if servedSerial(t, ip, l) == firstSerial {
		t.Error("certificate file replaced and reloaded, old certificate still served")
	}
	cout, err = exec.Command(bin, "hosting", "check", "-cert-warn", "1h", "-config", hcfg).Output()
	t.Logf("hosting check after the change:\n%s", cout)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(cout), "PROBLEM hosted.test id: _mta-sts TXT has id "+id) {
		t.Errorf("check after the policy changed: %v\n%s", err, cout)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// auditHosting returns the hosting-policy lines of the audit file.
func auditHosting(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == "hosting-policy" {
			out = append(out, m)
		}
	}
	return out
}

// servedSerial is the serial of the certificate the policy host presents.
func servedSerial(t *testing.T, ip string, l *lab.Lab) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", net.JoinHostPort(ip, "443"),
		&tls.Config{ServerName: "mta-sts.hosted.test", RootCAs: l.CA.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// The first certificate through the daemon's configuration: hosting.acme pointed at a real
// Pebble (EAB, ca_file for its directory), validation by TLS-ALPN-01 on the hosting
// listener's port 443; the second mailtls, trusting Pebble's root, enforces the policy.
func TestHostingACMEThroughDaemon(t *testing.T) {
	l := lab.New(t) // root: port 443
	bin := buildBinary(t)
	ip := hostingIP(t)
	l.DNS.Add("mta-sts.acme.test. 60 IN A "+ip, "acme.test. 300 IN MX 10 mx.acme.test.")
	peb := pebbletest.Start(t, pebbletest.Options{DNS: l.DNS.Addr, TLSPort: 443, HTTPPort: 1, EAB: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, rootPEM := peb.Roots(ctx)

	hdir := t.TempDir()
	dirCA := peb.DirectoryCA.WriteFile(t, hdir)
	addr := lab.FreeAddr(t)
	hostingCfg := func(domains ...string) string {
		c := l.Config("", addr, hdir) + fmt.Sprintf(`hosting:
  listen: "%s:443"
  acme:
    directory: %s
    ca_file: %s
    contact: hostmaster@acme.test
    eab: {kid: %s, hmac_key: %s}
  domains:
`, ip, peb.Directory, dirCA, peb.EABKID, peb.EABKey)
		for _, d := range domains {
			c += "    - {domain: " + d + ", mode: enforce}\n"
		}
		return c
	}
	hcfg := writeConfig(t, hdir, hostingCfg("acme.test"))
	hp := startDaemon(t, bin, hcfg, addr)

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	var leaf *x509.Certificate
	for deadline := time.Now().Add(60 * time.Second); leaf == nil && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", net.JoinHostPort(ip, "443"),
			&tls.Config{ServerName: "mta-sts.acme.test", RootCAs: roots})
		if err == nil {
			leaf = c.ConnectionState().PeerCertificates[0]
			c.Close()
		}
	}
	if leaf == nil {
		t.Fatalf("no certificate from Pebble within 60 s\n%s", hp.logs)
	}
	if !strings.Contains(hp.logs.String(), "hosting: ACME certificate stored") {
		t.Errorf("no log line for the stored certificate")
	}
	if _, err := os.Stat(filepath.Join(hdir, "acme", "mta-sts.acme.test")); err != nil {
		t.Errorf("certificate not in the state directory: %v", err)
	}

	out, err := exec.Command(bin, "hosting", "records", "-config", hcfg).Output()
	if err != nil {
		t.Fatalf("records: %v", err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "_mta-sts.") {
			l.DNS.Add(line)
		}
	}
	rdir := t.TempDir()
	rootFile := filepath.Join(rdir, "pebble-root.pem")
	os.WriteFile(rootFile, rootPEM, 0o644)
	rcfg := writeConfig(t, rdir, strings.Replace(l.Config("", lab.FreeAddr(t), rdir), l.CAFile, rootFile, 1))
	q, err := exec.Command(bin, "query", "acme.test", "-local", "-config", rcfg).CombinedOutput()
	if err != nil || !strings.Contains(string(q), "reply:   OK secure match=mx.acme.test servername=hostname") {
		t.Errorf("resolver with Pebble's root: %v\n%s", err, q)
	}

	// A domain added by a reload gets its certificate at once, before any handshake asks.
	l.DNS.Add("mta-sts.second.test. 60 IN A " + ip)
	os.WriteFile(hcfg, []byte(hostingCfg("acme.test", "second.test")), 0o644)
	hp.cmd.Process.Signal(syscall.SIGHUP)
	stored := filepath.Join(hdir, "acme", "mta-sts.second.test")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(stored); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for a domain added by reload within 60 s\n%s", hp.logs)
		}
	}
}
