package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/internal/testpki"
)

// setup builds the whole topology inside a fresh namespace; t.Cleanup tears it down.
func setup(t *testing.T) *world {
	t.Helper()
	testenv.Full(t, "the end-to-end suite")
	testenv.Namespace(t, "the end-to-end suite creates a network namespace and runs Postfix")
	w := &world{bin: lookBinaries(t), paths: map[string]*proc{}}
	start := time.Now()

	// Created first so that it is removed last, after every process is gone.
	dir, err := os.MkdirTemp("", "mailtls-e2e-")
	must(t, err)
	must(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() {
		if os.Getenv("MAILTLS_E2E_KEEP") == "1" {
			t.Logf("keeping %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	w.dir, w.logs = dir, filepath.Join(dir, "logs")
	for _, d := range []string{w.logs, filepath.Join(dir, "pki"), filepath.Join(dir, "bin")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	w.bin.build(t, filepath.Join(dir, "bin"))
	w.ns = newNetns(t, w.bin.ip)
	w.ns.addAddrs(t, addrKnot, addrPolicy, addrReceiver)
	for _, ip := range pathAddrs() {
		w.ns.addAddrs(t, ip)
	}
	t.Cleanup(func() {
		if t.Failed() {
			w.dumpLogs(t)
		}
	})

	w.ca = testpki.NewCA(t, "mailtls e2e CA")
	w.caFile = w.ca.WriteFile(t, filepath.Join(dir, "pki"))
	rcert, rkey := w.writePEM(t, "receiver", mxNames()...)
	w.writePEM(t, "attacker", wrongName)

	w.startDNS(t, zones(spkiSHA256(t, rcert)))
	w.checkDNS(t)
	w.startPolicyHost(t)
	w.startReceiver(t, rcert, rkey, receiverDomains())
	for mx, mode := range initialPaths() {
		w.setPath(t, mx, mode)
	}
	w.writeMailtlsConfig(t)
	w.startMailtls(t)
	w.startSender(t)
	t.Logf("topology up in %v (namespace %s, files in %s)", time.Since(start).Round(time.Millisecond), w.ns.name, dir)
	return w
}

// checkDNS makes sure Unbound validates before anything relies on it: DANE means
// nothing otherwise.
func (w *world) checkDNS(t *testing.T) {
	t.Helper()
	tests := []struct {
		name, qtype, rcode string
		ad                 bool
	}{
		{checkSigned, "A", "NOERROR", true},
		{"_25._tcp.mx." + domDaneGood, "TLSA", "NOERROR", true},
		{checkBogus, "A", "SERVFAIL", false},
		{"_mta-sts." + domEnforce, "TXT", "NOERROR", false},
	}
	for _, tt := range tests {
		var a dnsAnswer
		var err error
		// Unbound may still be priming right after start: retry briefly.
		for range 20 {
			if a, err = w.ask(addrUnbound+":53", tt.name, tt.qtype); err == nil && a.Rcode == tt.rcode && a.AD == tt.ad {
				break
			}
			time.Sleep(150 * time.Millisecond)
		}
		if err != nil || a.Rcode != tt.rcode || a.AD != tt.ad {
			t.Fatalf("resolver: %s %s = %+v, %v; want %s AD=%v", tt.name, tt.qtype, a, err, tt.rcode, tt.ad)
		}
	}
}

// dumpLogs prints every process log of the run (Postfix maillogs are printed by their
// own cleanup).
func (w *world) dumpLogs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(w.logs, "*.log"))
	files = append(files, filepath.Join(w.dir, "knot", "knot.log"), filepath.Join(w.dir, "unbound", "unbound.log"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && len(b) > 0 {
			t.Logf("---- %s\n%s", filepath.Base(f), tail(string(b), 80))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// send submits a message for rcpt through the sender's smtpd with swaks and returns its
// queue id and the maillog mark from before the submission.
func (w *world) send(t *testing.T, rcpt, token string) (id string, mark int64) {
	t.Helper()
	return w.sendFrom(t, senderDefault, rcpt, token)
}

// sendFrom is send with another envelope sender (senderControl selects the sender's
// control transport, whose policy map uses mailtls's nodane profile).
func (w *world) sendFrom(t *testing.T, from, rcpt, token string) (id string, mark int64) {
	t.Helper()
	mark = w.sender.logSize()
	out, err := w.ns.output(w.bin.swaks, "--server", "127.0.0.1:25", "--helo", "client.e2e.test",
		"--from", from, "--to", rcpt,
		"--header", "Subject: mailtls e2e "+token, "--header", "X-E2E-Token: "+token,
		"--body", "mailtls end-to-end test message "+token)
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`queued as ([0-9A-Za-z]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("swaks: no queue id in:\n%s", out)
	}
	t.Logf("sent %s to %s as %s", token, rcpt, m[1])
	return m[1], mark
}
