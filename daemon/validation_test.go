package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/lab"
)

// fastChecks repeat the validation check as fast as the resolver answers.
var fastChecks = validationTimers{whileOn: 10 * time.Millisecond, whileOff: 10 * time.Millisecond, retry: 10 * time.Millisecond}

// Issue 3: a resolver that starts validating after mailtls (e.g. at boot) switches DANE on
// without a restart, and one that stops validating switches it off again.
func TestValidationRechecked(t *testing.T) {
	l := lab.New(t)
	l.DNS.SetMode(lab.CheckBogus, 0, dnstest.Secure) // not validating yet: the broken name resolves
	cfg, err := config.Parse([]byte(l.Config("", "127.0.0.1:1", t.TempDir())+"cache: {store: none}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if d.parts.Engine.DANEEnabled() {
		t.Fatal("DANE on although the validation check failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.watchValidation(ctx, fastChecks)

	l.DNS.SetMode(lab.CheckBogus, 0, dnstest.Bogus) // the resolver now validates
	waitDANE(t, d, true)
	l.DNS.SetMode(lab.CheckSigned, 0, dnstest.Insecure) // and stops validating
	waitDANE(t, d, false)
}

func waitDANE(t *testing.T, d *Daemon, want bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for d.parts.Engine.DANEEnabled() != want {
		if time.Now().After(deadline) {
			t.Fatalf("DANE enabled = %v, want %v", !want, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// daneDaemon is a daemon on an in-process resolver that validates, with dane.test a
// dane-only domain (signed MX, A and TLSA records) and a profile that requires DANE.
func daneDaemon(t *testing.T) (*Daemon, *dnstest.Server) {
	t.Helper()
	s := dnstest.New(t)
	s.Add(lab.CheckSigned+" 300 IN A 127.0.0.1", lab.CheckBogus+" 300 IN A 127.0.0.1",
		"dane.test. 300 IN MX 10 mx.dane.test.",
		"mx.dane.test. 300 IN A 127.0.0.10",
		"_25._tcp.mx.dane.test. 300 IN TLSA 3 1 1 "+tlsaData)
	s.SetMode(lab.CheckBogus, 0, dnstest.Bogus)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
state_dir: %s
resolver: {servers: ["%s"], timeout: 1s}
dane: {check_signed: "%s", check_bogus: "%s"}
cache: {store: none}
listen: {socketmap: [{tcp: "127.0.0.1:1"}]}
profiles:
  required: {dane: required}
`, t.TempDir(), s.Addr, lab.CheckSigned, lab.CheckBogus)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !d.parts.Engine.DANEEnabled() {
		t.Fatal("DANE off although the resolver validates")
	}
	return d, s
}

// get is a GET of path from d's metrics handler.
func get(t *testing.T, d *Daemon, path string) (int, string) {
	t.Helper()
	var ready atomic.Bool
	ready.Store(true)
	rec := httptest.NewRecorder()
	d.metrics.handler(&ready, d.storeHealth, d.daneReadiness).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func readyz(t *testing.T, d *Daemon) (int, string) { return get(t, d, "/readyz") }

// metric is the value of series (name and labels as /metrics writes them), 0 if absent.
func metric(t *testing.T, d *Daemon, series string) float64 {
	t.Helper()
	_, body := get(t, d, "/metrics")
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// Issue 11: a validation probe that times out is inconclusive: DANE stays on and a DANE
// domain never gets NOTFOUND, however often the probe runs. A check that proves the
// resolver does not validate switches DANE off — and then the DANE domain and the
// profile requiring DANE answer TEMP, never NOTFOUND — until the resolver validates again.
// Every change is counted and shown by /readyz.
func TestValidationProbeInconclusiveNoDowngrade(t *testing.T) {
	d, s := daneDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if got := d.Lookup(ctx, "postfix", "dane.test"); got != "OK dane-only" {
		t.Fatalf("dane.test: %q", got)
	}

	// Ask for dane.test without pause from the first probe to the end of the test.
	var (
		mu      sync.Mutex
		replies = map[string]int{}
		wg      sync.WaitGroup
	)
	queryCtx, stopQueries := context.WithCancel(ctx)
	wg.Go(func() {
		for queryCtx.Err() == nil {
			for _, p := range []string{"postfix", "postfix-tlsrpt"} {
				r := d.Lookup(queryCtx, p, "dane.test")
				mu.Lock()
				replies[r]++
				mu.Unlock()
			}
		}
	})
	checks := func(result string) float64 {
		return metric(t, d, `mailtls_resolver_validation_checks_total{result="`+result+`"}`)
	}
	changes := func(to string) float64 { return metric(t, d, `mailtls_dane_state_changes_total{to="`+to+`"}`) }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	go d.watchValidation(ctx, fastChecks)

	// 1. The bogus name times out: inconclusive, again and again. DANE stays on. (The
	// resolver timeout is 1 s, not less: a shorter one let a lookup time out on a loaded
	// machine under -race and answer "OK dane" before the probes began.)
	s.SetMode(lab.CheckBogus, 0, dnstest.Timeout)
	waitFor("3 inconclusive checks", func() bool { return checks("inconclusive") >= 3 })
	if !d.parts.Engine.DANEEnabled() {
		t.Fatal("DANE switched off by an inconclusive probe")
	}
	if code, body := readyz(t, d); code != http.StatusOK || !strings.Contains(body, "dane: on") || !strings.Contains(body, "inconclusive") {
		t.Errorf("/readyz during inconclusive probes: %d %q", code, body)
	}
	// The same with the signed name refused, and with the bogus name gone (NXDOMAIN).
	s.SetMode(lab.CheckSigned, 0, dnstest.Refused)
	n := checks("inconclusive")
	waitFor("refused checks", func() bool { return checks("inconclusive") >= n+3 })
	s.SetMode(lab.CheckSigned, 0, dnstest.Secure)
	s.Remove(lab.CheckBogus, 0)
	n = checks("inconclusive")
	waitFor("NXDOMAIN checks", func() bool { return checks("inconclusive") >= n+3 })
	if !d.parts.Engine.DANEEnabled() || changes("off") != 0 {
		t.Fatal("DANE switched off by an inconclusive probe")
	}

	// 2. Proof: the signed name comes back without AD. DANE goes off; answers are TEMP.
	s.SetMode(lab.CheckSigned, 0, dnstest.Insecure)
	waitDANE(t, d, false)
	if got := d.Lookup(ctx, "postfix", "dane.test"); !strings.HasPrefix(got, "TEMP ") {
		t.Errorf("dane.test with DANE off: %q, want TEMP", got)
	}
	if got := d.Lookup(ctx, "required", "nodane.test"); !strings.HasPrefix(got, "TEMP ") {
		t.Errorf("profile requiring DANE with DANE off: %q, want TEMP", got)
	}
	if code, body := readyz(t, d); code != http.StatusServiceUnavailable || !strings.Contains(body, "dane: OFF") || !strings.Contains(body, "requires DANE") {
		t.Errorf("/readyz with DANE off: %d %q", code, body)
	}
	if changes("off") != 1 || metric(t, d, "mailtls_resolver_validating") != 0 {
		t.Error("switching DANE off not counted")
	}
	time.Sleep(100 * time.Millisecond) // a few queries more while it is off

	// 3. The resolver validates again: DANE on, dane-only again.
	s.SetMode(lab.CheckSigned, 0, dnstest.Secure)
	s.Add(lab.CheckBogus + " 300 IN A 127.0.0.1")
	s.SetMode(lab.CheckBogus, 0, dnstest.Bogus)
	waitDANE(t, d, true)
	stopQueries()
	wg.Wait()
	if changes("on") != 1 {
		t.Error("switching DANE on not counted")
	}
	if code, body := readyz(t, d); code != http.StatusOK || !strings.Contains(body, "dane: on") {
		t.Errorf("/readyz with DANE back: %d %q", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("replies while the probes ran: %v; checks: validating %v, not_validating %v, inconclusive %v",
		replies, checks("validating"), checks("not_validating"), checks("inconclusive"))
	for r, n := range replies {
		if !strings.HasPrefix(r, "OK dane-only") && !strings.HasPrefix(r, "TEMP ") {
			t.Errorf("dane.test answered %q %d times: weaker than its DANE facts", r, n)
		}
	}
	if replies["OK dane-only"] == 0 {
		t.Error("no query answered while the probes ran")
	}
}
