package check

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/hosting"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/mtasts"
)

// leaf issues a certificate for names valid from notBefore to notAfter.
func leaf(t *testing.T, ca *testpki.CA, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// world is one hosted domain as a sender sees it: DNS, the policy host and its cert.
type world struct {
	dns     *dnstest.Server
	ca      *testpki.CA
	host    *hosting.Host
	srv     *httptest.Server
	checker *Checker
	spec    hosting.Spec
}

const domain = "example.com"

func newWorld(t *testing.T, cert func(ca *testpki.CA) tls.Certificate) *world {
	t.Helper()
	w := &world{dns: dnstest.New(t), ca: testpki.NewCA(t, "check test CA")}
	res, err := dnsclient.New(dnsclient.Config{Servers: []string{w.dns.Addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := &hosting.Builder{Resolver: res}
	w.spec = hosting.Spec{Domain: domain, Mode: mtasts.ModeEnforce, MX: []string{"mx1.example.com", "*.mail.example.com"}, MaxAge: 86400}
	w.host = hosting.New(hosting.Options{Builder: b})
	w.host.Update([]hosting.Spec{w.spec})
	c := leaf(t, w.ca, time.Now().Add(-time.Hour), time.Now().Add(60*24*time.Hour), "mta-sts."+domain)
	if cert != nil {
		c = cert(w.ca)
	}
	w.srv = httptest.NewUnstartedServer(w.host)
	w.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	w.srv.TLS = hosting.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &c, nil })
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	addr := w.srv.Listener.Addr().String()
	// Senders connect to mta-sts.<domain>:443; here that is the test server.
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		if a != "mta-sts."+domain+":443" {
			return nil, &net.OpError{Op: "dial", Err: net.UnknownNetworkError("unexpected address " + a)}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	f := mtasts.NewFetcher(mtasts.FetcherConfig{Dial: dial, RootCAs: w.ca.Pool(), Timeout: 3 * time.Second})
	w.checker = &Checker{Resolver: res, Fetcher: f, Dial: dial, Roots: w.ca.Pool(), Builder: b}
	// A correct publication: TXT with the served id, MX hosts covered.
	w.dns.Add(`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=`+w.host.Policies()[0].ID+`"`,
		"example.com. 300 IN MX 10 mx1.example.com.", "example.com. 300 IN MX 20 in.mail.example.com.")
	return w
}

func (w *world) run(t *testing.T) []Finding {
	t.Helper()
	fs := w.checker.Check(context.Background(), w.spec)
	for _, f := range fs {
		t.Log(f)
	}
	return fs
}

// problem returns the first problem finding of check, or fails.
func problem(t *testing.T, fs []Finding, check, contains string) {
	t.Helper()
	for _, f := range fs {
		if f.Severity == Problem && f.Check == check && strings.Contains(f.Message, contains) {
			return
		}
	}
	t.Errorf("no %s problem containing %q", check, contains)
}

func TestCheckHealthy(t *testing.T) {
	w := newWorld(t, nil)
	fs := w.run(t)
	if Failed(fs) {
		t.Fatal("problems reported for a correct publication")
	}
	for _, c := range []string{"id", "policy", "mx", "certificate"} {
		found := false
		for _, f := range fs {
			found = found || f.Check == c && f.Severity == OK
		}
		if !found {
			t.Errorf("no OK finding for %s", c)
		}
	}
}

// RFC 8461 §3.1: a TXT id that is not the served policy's id means senders never refetch.
func TestCheckIDMismatch(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.Remove("_mta-sts.example.com.", 16)
	w.dns.Add(`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=20240101"`)
	fs := w.run(t)
	problem(t, fs, "id", "id 20240101 but the served policy's id is "+w.host.Policies()[0].ID)
}

// RFC 8461 §4.1: an MX host no pattern matches is undeliverable for enforcing senders.
func TestCheckMXNotCovered(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.Add("example.com. 300 IN MX 30 backup.example.net.", "example.com. 300 IN MX 40 a.b.mail.example.com.")
	fs := w.run(t)
	problem(t, fs, "mx", "backup.example.net matches no mx pattern")
	problem(t, fs, "mx", "a.b.mail.example.com matches no mx pattern") // *. covers one label only
}

func TestCheckWrongNameCertificate(t *testing.T) {
	w := newWorld(t, func(ca *testpki.CA) tls.Certificate {
		return leaf(t, ca, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "www.example.com")
	})
	fs := w.run(t)
	problem(t, fs, "certificate", "certificate is for www.example.com, not mta-sts.example.com")
	problem(t, fs, "policy", string(mtasts.ResultWebPKIInvalid))
}

func TestCheckExpiredCertificate(t *testing.T) {
	w := newWorld(t, func(ca *testpki.CA) tls.Certificate {
		return leaf(t, ca, time.Now().Add(-90*24*time.Hour), time.Now().Add(-time.Hour), "mta-sts.example.com")
	})
	fs := w.run(t)
	problem(t, fs, "certificate", "expired at")
}

func TestCheckCertificateExpiringSoon(t *testing.T) {
	w := newWorld(t, func(ca *testpki.CA) tls.Certificate {
		return leaf(t, ca, time.Now().Add(-80*24*time.Hour), time.Now().Add(3*24*time.Hour), "mta-sts.example.com")
	})
	problem(t, w.run(t), "certificate", "renewal is overdue")
}

func TestCheckHostDown(t *testing.T) {
	w := newWorld(t, nil)
	w.srv.Close()
	fs := w.run(t)
	problem(t, fs, "policy", "fetching https://mta-sts.example.com/.well-known/mta-sts.txt failed")
	problem(t, fs, "certificate", "unreachable")
}

// The served policy differs from the configuration (daemon not reloaded).
func TestCheckPolicyDiffersFromConfig(t *testing.T) {
	w := newWorld(t, nil)
	w.spec.MaxAge = 604800
	problem(t, w.run(t), "policy", "differs from the configured one")
}

// RFC 8461 §8.3: for a mode none domain, check says when removal is safe.
func TestCheckRemoval(t *testing.T) {
	w := newWorld(t, nil)
	st, _ := hosting.OpenState(t.TempDir())
	w.checker.State = st
	now := time.Now()
	st.Served(hosting.Render(domain, mtasts.ModeEnforce, []string{"mx1.example.com"}, 86400, hosting.SourceConfig), now.Add(-time.Hour))
	none := hosting.Render(domain, mtasts.ModeNone, nil, 86400, hosting.SourceConfig)
	st.Served(none, now)
	w.spec = hosting.Spec{Domain: domain, Mode: mtasts.ModeNone, MaxAge: 86400}
	fs := w.run(t)
	var msg string
	for _, f := range fs {
		if f.Check == "removal" {
			msg = f.Message
		}
	}
	if !strings.Contains(msg, "safe after "+now.Add(86400*time.Second).UTC().Format(time.RFC3339)) {
		t.Errorf("removal finding %q", msg)
	}
	w.checker.Now = func() time.Time { return now.Add(86401 * time.Second) }
	msg = ""
	for _, f := range w.checker.Check(context.Background(), w.spec) {
		if f.Check == "removal" {
			msg = f.Message
		}
	}
	if !strings.HasPrefix(msg, "safe now") {
		t.Errorf("after max_age: %q", msg)
	}
}
