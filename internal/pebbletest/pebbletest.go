// Package pebbletest runs Pebble, the ACME test CA of the Let's Encrypt project, for
// tests of the policy host's certificates: built from its Go module by the test (go
// install into a temporary directory; the build cache makes later builds quick), started
// on loopback with real challenge validation (PEBBLE_VA_ALWAYS_VALID unset) against the
// test's own DNS server and challenge ports, stopped at the end of the test.
//
// Building needs the go command and the module (from the module cache or the Go module
// proxy); without them the test skips, or fails under MAILTLS_REQUIRE_INTEGRATION=1, as
// internal/testenv decides.
package pebbletest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/internal/testpki"
)

// Module is the Pebble version the tests build.
const Module = "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3"

// Options say where Pebble validates challenges and what it issues.
type Options struct {
	// DNS is the "host:port" of the DNS server Pebble resolves identifiers with.
	DNS string
	// TLSPort and HTTPPort are where Pebble connects for TLS-ALPN-01 and HTTP-01.
	TLSPort, HTTPPort int
	// Validity of issued certificates (default 90 days).
	Validity time.Duration
	// EAB makes External Account Binding mandatory, with one key (EABKID, EABKey).
	EAB bool
}

// Pebble is a running Pebble.
type Pebble struct {
	// Directory is the ACME directory URL; DirectoryCA signs its HTTPS certificate.
	Directory   string
	DirectoryCA *testpki.CA
	// EABKID and EABKey (base64url) are the binding credentials when Options.EAB is set.
	EABKID, EABKey string
	mgmt           string
	cmd            *exec.Cmd
	done           chan struct{}
	t              testing.TB
}

// Build builds Pebble into a temporary directory and returns the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	goBin := testenv.LookPath(t, "go", "the Go toolchain builds Pebble")
	dir := t.TempDir()
	cmd := exec.Command(goBin, "install", Module)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("building Pebble (%s): %v\n%s", Module, err, out))
	}
	return filepath.Join(dir, "pebble")
}

// Start builds and starts Pebble; it stops at the end of the test.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	bin := Build(t)
	dir := t.TempDir()
	p := &Pebble{DirectoryCA: testpki.NewCA(t, "pebble directory CA"), t: t, done: make(chan struct{})}
	certPEM, keyPEM := p.DirectoryCA.LeafPEM(t, "127.0.0.1", "localhost")
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	listen, mgmt := freePort(t), freePort(t)
	validity := o.Validity
	if validity == 0 {
		validity = 90 * 24 * time.Hour
	}
	cfg := map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             write("cert.pem", certPEM),
		"privateKey":              write("key.pem", keyPEM),
		"httpPort":                o.HTTPPort,
		"tlsPort":                 o.TLSPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{"default": map[string]any{
			"description": "test", "validityPeriod": int(validity / time.Second)}},
	}
	if o.EAB {
		key := make([]byte, 32)
		rand.Read(key)
		p.EABKID, p.EABKey = "kid-test", base64.RawURLEncoding.EncodeToString(key)
		cfg["externalAccountBindingRequired"] = true
		cfg["externalAccountMACKeys"] = map[string]string{p.EABKID: p.EABKey}
	}
	data, _ := json.Marshal(map[string]any{"pebble": cfg})
	cfgFile := write("pebble.json", data)

	p.cmd = exec.Command(bin, "-config", cfgFile, "-dnsserver", o.DNS)
	// Real validation: no always-valid shortcut, no random sleeps or nonce rejections
	// (they only slow the test), and no authorization reuse, so a renewal validates anew.
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PEBBLE_") {
			env = append(env, kv)
		}
	}
	p.cmd.Env = env
	p.cmd.Stdout = testWriter{t}
	p.cmd.Stderr = testWriter{t}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting Pebble: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)
	p.Directory = "https://" + listen + "/dir"
	p.mgmt = "https://" + mgmt
	p.waitReady()
	return p
}

// Stop stops Pebble (also at the end of the test).
func (p *Pebble) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

func (p *Pebble) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.DirectoryCA.Pool()}}}
}

func (p *Pebble) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.client().Get(p.Directory)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("Pebble did not come up at %s: %v", p.Directory, err)
		}
		select {
		case <-p.done:
			p.t.Fatal("Pebble exited at start")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Roots returns a pool with the root Pebble issues certificates under.
func (p *Pebble) Roots(ctx context.Context) (*x509.CertPool, []byte) {
	p.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.mgmt+"/roots/0", nil)
	resp, err := p.client().Do(req)
	if err != nil {
		p.t.Fatalf("Pebble root: %v", err)
	}
	defer resp.Body.Close()
	pem, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		p.t.Fatalf("Pebble root: no certificate in %q", pem)
	}
	return pool, pem
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testWriter sends Pebble's output to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("pebble: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
