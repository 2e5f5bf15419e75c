// Package lab is an in-process test network for mailtls: a DNS server acting as the
// validating resolver (internal/dnstest), MTA-STS policy hosts served over HTTPS on port
// 443 of a loopback address with certificates from a test CA, and helpers that publish a
// domain's records and policy in one call. The daemon, CLI and benchmark tests all build
// on it, so they exercise the real resolver, fetcher and TLS paths.
//
// Port 443 needs root (or CAP_NET_BIND_SERVICE); New skips or fails the test otherwise,
// as internal/testenv decides.
package lab

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/internal/testpki"
)

// Lab is one test network: the in-process DNS server and the policy hosts.
type Lab struct {
	DNS *dnstest.Server
	*Hosts
}

// Hosts are MTA-STS policy hosts: one HTTPS server on port 443 of a loopback address
// answering for every mta-sts.<domain> name with a certificate from the lab CA.
type Hosts struct {
	CA     *testpki.CA
	CAFile string // PEM of the CA, for mta_sts.ca_file
	IP     string // loopback address the policy hosts listen on (port 443)

	t       testing.TB
	ln      net.Listener
	srv     *http.Server
	mu      sync.Mutex
	bodies  map[string]string // policy host name → body
	delays  map[string]time.Duration
	fetches map[string]int
	certs   map[string]*tls.Certificate
	source  func(domain string) (string, bool)
}

// Names the lab's DNS server answers for mailtls's resolver validation check
// (config dane.check_signed / dane.check_bogus).
const (
	CheckSigned = "dnssec-ok.lab."
	CheckBogus  = "dnssec-bogus.lab."
)

// New starts a lab; everything stops at the end of the test.
func New(t testing.TB) *Lab {
	t.Helper()
	l := &Lab{DNS: dnstest.New(t), Hosts: NewHosts(t)}
	l.DNS.Add(CheckSigned + " 300 IN A 127.0.0.1")
	l.DNS.Add(CheckBogus + " 300 IN A 127.0.0.1")
	l.DNS.SetMode(CheckBogus, 0, dnstest.Bogus)
	return l
}

// Config returns a mailtls configuration for this lab: its resolver (or resolver, when
// not empty), its CA, a socketmap listener on listen and the state in stateDir.
func (l *Lab) Config(resolver, listen, stateDir string) string {
	if resolver == "" {
		resolver = l.DNS.Addr
	}
	return fmt.Sprintf(`state_dir: %s
log: {level: debug}
resolver: {servers: ["%s"], timeout: 500ms}
dane: {check_signed: "%s", check_bogus: "%s"}
mta_sts: {ca_file: %s, fetch_timeout: 3s, allow_addresses: ["127.0.0.0/8"]}
listen:
  socketmap: [{tcp: "%s"}]
`, stateDir, resolver, CheckSigned, CheckBogus, l.CAFile, listen)
}

// NewHosts starts policy hosts alone, for tests that bring their own DNS (internal/dnslab).
func NewHosts(t testing.TB) *Hosts {
	t.Helper()
	testenv.Root(t, "policy hosts listen on port 443 of a loopback address")
	l := &Hosts{t: t, CA: testpki.NewCA(t, "mailtls lab CA"),
		bodies: map[string]string{}, delays: map[string]time.Duration{}, fetches: map[string]int{}, certs: map[string]*tls.Certificate{}}
	l.CAFile = l.CA.WriteFile(t, t.TempDir())
	var err error
	for range 20 {
		l.IP = fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(254))
		if l.ln, err = net.Listen("tcp", net.JoinHostPort(l.IP, "443")); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("lab: no free loopback address for port 443: %v", err)
	}
	l.srv = &http.Server{Handler: http.HandlerFunc(l.serve), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: nil, TLSConfig: &tls.Config{GetCertificate: l.cert, MinVersion: tls.VersionTLS12}}
	go func() {
		if err := l.srv.ServeTLS(l.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("lab: policy host: %v", err)
		}
	}()
	t.Cleanup(func() { l.srv.Close() })
	return l
}

// STS publishes an MTA-STS domain: the TXT record with id, the policy host's address and
// the policy body.
func (l *Lab) STS(domain, id, body string) {
	l.DNS.Add(fmt.Sprintf("_mta-sts.%s. 300 IN TXT \"v=STSv1; id=%s;\"", domain, id))
	l.DNS.Add(fmt.Sprintf("mta-sts.%s. 300 IN A %s", domain, l.IP))
	l.SetPolicy(domain, body)
}

// SetPolicy changes the body served for domain ("" serves 404).
func (l *Hosts) SetPolicy(domain, body string) {
	l.mu.Lock()
	l.bodies["mta-sts."+domain] = body
	l.mu.Unlock()
}

// SetPolicySource serves the policy bodies f makes, for domains SetPolicy gave none: many
// generated domains (internal/hostile) without holding their bodies. nil removes it.
func (l *Hosts) SetPolicySource(f func(domain string) (string, bool)) {
	l.mu.Lock()
	l.source = f
	l.mu.Unlock()
}

// SetDelay makes domain's policy host wait d before answering (a slow host).
func (l *Hosts) SetDelay(domain string, d time.Duration) {
	l.mu.Lock()
	l.delays["mta-sts."+domain] = d
	l.mu.Unlock()
}

// Fetches is how many times domain's policy was requested.
func (l *Hosts) Fetches(domain string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fetches["mta-sts."+domain]
}

// Stop closes the policy hosts (the "host down" case).
func (l *Hosts) Stop() { l.srv.Close() }

// Policy is a policy body with the given mode, max_age and mx patterns.
func Policy(mode string, maxAge int, mx ...string) string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\nmode: " + mode + "\r\n")
	for _, m := range mx {
		b.WriteString("mx: " + m + "\r\n")
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", maxAge)
	return b.String()
}

func (l *Hosts) serve(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	l.mu.Lock()
	l.fetches[host]++
	body, ok := l.bodies[host]
	delay, source := l.delays[host], l.source
	l.mu.Unlock()
	if !ok && source != nil {
		body, ok = source(strings.TrimPrefix(host, "mta-sts."))
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if !ok || body == "" || r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, body)
}

// cert issues (once) a certificate for the SNI name asked for.
func (l *Hosts) cert(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	if name == "" {
		return nil, errors.New("lab: no SNI")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.certs[name]; ok {
		return c, nil
	}
	c := l.CA.Leaf(l.t, name)
	l.certs[name] = &c
	return &c, nil
}
