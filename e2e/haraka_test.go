package e2e

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
)

// The sending Haraka: the version integrations/haraka/package.json pins, run by node from
// integrations/haraka/node_modules inside the namespace, with haraka-plugin-mailtls (that
// directory) asking mailtls's HTTP API, configured as README.md ("Haraka") says.
const (
	harakaListen = "127.0.0.1:2525" // where the suite submits messages (relaying allowed from 127.0.0.0/8)
	harakaPlugin = "../integrations/haraka"
)

type harakaMTA struct {
	w       *world
	dir     string // $HARAKA: config/, queue/, node_modules/haraka-plugin-mailtls
	version string
	proc    *proc
}

// harakaLine is one line of Haraka's log: "[LEVEL] [uuid] [origin] message".
var harakaLine = regexp.MustCompile(`^\[([A-Z]+)\] \[([^\]]*)\] \[([^\]]*)\] (.*)$`)

// startHaraka writes Haraka's configuration and starts it in the namespace.
func (w *world) startHaraka(t *testing.T) *harakaMTA {
	t.Helper()
	node := testenv.LookPath(t, "node", "Debian package nodejs (>= 20); scripts/install-test-deps.sh")
	plugin, err := filepath.Abs(harakaPlugin)
	must(t, err)
	var pin struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	var installed struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(plugin, "package.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &pin))
	if b, err = os.ReadFile(filepath.Join(plugin, "node_modules", "Haraka", "package.json")); err == nil {
		err = json.Unmarshal(b, &installed)
	}
	if err != nil || installed.Version != pin.DevDependencies["Haraka"] {
		testenv.Missing(t, "Haraka "+pin.DevDependencies["Haraka"]+" not in integrations/haraka/node_modules (scripts/install-test-deps.sh runs npm ci there)")
	}
	h := &harakaMTA{w: w, dir: filepath.Join(w.dir, "haraka"), version: installed.Version}
	harakaBin := filepath.Join(plugin, "node_modules", "Haraka", "bin", "haraka")
	// A Haraka directory as an operator makes one (haraka -i: the base configuration),
	// then the settings below.
	if out, err := exec.Command(node, harakaBin, "-i", h.dir).CombinedOutput(); err != nil {
		t.Fatalf("haraka -i: %v\n%s", err, out)
	}
	for _, d := range []string{"node_modules", "queue"} {
		must(t, os.MkdirAll(filepath.Join(h.dir, d), 0o755))
	}
	// The plugin, installed where Haraka looks for packaged plugins.
	must(t, os.Symlink(plugin, filepath.Join(h.dir, "node_modules", "haraka-plugin-mailtls")))
	files := map[string]string{
		// mailtls first: relay's get_mx hook (force_routing, off here anyway) must not
		// answer before it.
		"plugins":         "mailtls\nrelay\n",
		"me":              "haraka.e2e.test\n",
		"smtp.ini":        "[main]\nlisten=" + harakaListen + "\nnodes=0\n", // one process: SIGHUP flushes its queue
		"log.ini":         "[main]\nlevel=info\ntimestamps=true\n",
		"relay.ini":       "[relay]\nacl=true\nforce_routing=false\n",
		"relay_acl_allow": "127.0.0.0/8\n",
		// The MX hosts are on loopback addresses; no retry on its own (retry sends SIGHUP).
		"outbound.ini": "local_mx_ok=true\ntemp_fail_intervals=1h*10\n",
		"mailtls.ini":  "url=http://" + httpAPIAddr + "\ntimeout=5\n",
	}
	for name, body := range files {
		must(t, os.WriteFile(filepath.Join(h.dir, "config", name), []byte(body), 0o644))
	}
	// Outbound TLS trusts Node's roots plus NODE_EXTRA_CA_CERTS: the test CA.
	h.proc = w.ns.start(t, "haraka", w.logs, "/usr/bin/env", "NODE_EXTRA_CA_CERTS="+w.caFile,
		node, harakaBin, "-c", h.dir)
	if err := w.ns.wait(w.bin.netprobe, harakaListen); err != nil {
		t.Fatalf("Haraka did not listen on %s: %v\n%s", harakaListen, err, tail(h.proc.logSince(0), 40))
	}
	// The plugin's start-up lines: what this Haraka lets it enforce, and what not.
	log := h.proc.logSince(0)
	for _, want := range []string{
		"[mailtls] asks http://" + httpAPIAddr + "/v1/policy/{domain}",
		"[mailtls] Haraka " + h.version + ": enforced per destination: ",
		"STARTTLS required and the certificate verified against the MX host name",
		"[mailtls] DANE (dane, dane-only): only the MX hosts mailtls validated, STARTTLS required and the certificate checked against their DNSSEC-validated TLSA records",
		"limit: Node runs that check only after the chain verified against Haraka's trust store",
		"[mailtls] not enforceable in Haraka " + h.version + " without a core change: DANE for servers whose chain the trust store does not verify",
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("Haraka's log has no %q:\n%s", want, tail(log, 40))
		}
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "[mailtls] ") {
			t.Logf("haraka: %s", l)
		}
	}
	return h
}

func (h *harakaMTA) name() string { return "Haraka " + h.version }

func (h *harakaMTA) send(t *testing.T, rcpt, tok string) (id string, mark int64) {
	t.Helper()
	mark = h.proc.logSize()
	out, err := h.w.ns.output(h.w.bin.swaks, "--server", harakaListen, "--helo", "client.e2e.test",
		"--from", senderDefault, "--to", rcpt,
		"--header", "Subject: mailtls e2e "+tok, "--header", "X-E2E-Token: "+tok,
		"--body", "mailtls end-to-end test message "+tok)
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`250 Message Queued \(([0-9A-Fa-f-]+\.\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("swaks: no Haraka queue id in:\n%s", out)
	}
	t.Logf("sent %s to %s through Haraka as %s", tok, rcpt, m[1])
	return m[1], mark
}

// harakaLines returns the lines of Haraka's log text about id (the message text after the
// level, id and origin fields, with the origin in front: "[outbound] delivered …").
func harakaLines(log, id string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		// With timestamps=true each line starts with an ISO time and a space.
		if i := strings.Index(l, " ["); i >= 0 && !strings.HasPrefix(l, "[") {
			l = l[i+1:]
		}
		m := harakaLine.FindStringSubmatch(l)
		// The outbound delivery of transaction id logs as id.1 (its first destination).
		if m != nil && (m[2] == id || strings.HasPrefix(m[2], id+".")) {
			out = append(out, "["+m[3]+"] "+strings.TrimSpace(m[4]))
		}
	}
	return out
}

var (
	harakaDelivered = regexp.MustCompile(`^\[outbound\] delivered file=\S+ domain=\S+ host=(\S+) ip=(\S+) port=\d+ mode=SMTP tls=([YN]) `)
	harakaTempFail  = regexp.MustCompile(`^\[outbound\] Temp failing \S+ for \d+ seconds: (.*)$`)
	harakaSecured   = regexp.MustCompile(`^\[outbound\] secured verified=(true|false) `)
	// The plugin's TLSA check at STARTTLS (lib/dane.js), before Haraka's "secured" line.
	harakaDANEVerified = regexp.MustCompile(`^\[mailtls\] \S+: \S+: DANE verified: TLSA `)
)

// parseHarakaAttempt reads the first delivery attempt of id in Haraka's log text: it ends
// with "delivered" or "Temp failing"; ok is false while neither is there.
func parseHarakaAttempt(log, id string) (a mtaAttempt, ok bool) {
	for _, l := range harakaLines(log, id) {
		a.lines = append(a.lines, l)
		if harakaDANEVerified.MatchString(l) {
			a.verified = "dane"
		}
		if m := harakaSecured.FindStringSubmatch(l); m != nil {
			a.tls = true
			// Node verified the chain (and ran the plugin's check, if any): verified by the
			// TLSA records when the plugin said so, else by the CA and the host name.
			if m[1] == "true" && a.verified == "" {
				a.verified = "ca"
			}
			if m[1] != "true" {
				a.verified = ""
			}
		}
		if m := harakaDelivered.FindStringSubmatch(l); m != nil {
			a.delivered, a.host, a.addr = true, m[1], m[2]
			a.tls = a.tls && m[3] == "Y"
			return a, true
		}
		if harakaTempFail.MatchString(l) {
			// The reason: everything Haraka and the plugin said about this attempt.
			a.reason = strings.Join(a.lines, " | ")
			return a, true
		}
	}
	return mtaAttempt{}, false
}

func (h *harakaMTA) waitAttempt(t *testing.T, id string, mark int64) mtaAttempt {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if a, ok := parseHarakaAttempt(h.proc.logSince(mark), id); ok {
			// The lines that prove the outcome, as Exim's are logged: what the plugin
			// decided and what Haraka's outbound did (not the submission's [core] lines).
			for _, l := range a.lines {
				if strings.HasPrefix(l, "[mailtls]") || strings.HasPrefix(l, "[outbound]") {
					t.Logf("Haraka: %s", l)
				}
			}
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("Haraka logged no delivery or deferral of %s:\n%s", id, tail(h.proc.logSince(mark), 60))
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// retry sends SIGHUP: Haraka flushes its temp-fail queue (haraka.js), so every deferred
// message is tried again now.
func (h *harakaMTA) retry(t *testing.T, id string) int64 {
	t.Helper()
	mark := h.proc.logSize()
	must(t, h.proc.cmd.Process.Signal(syscall.SIGHUP))
	return mark
}

// queued reads the queue files' headers (a 4-byte length, then the JSON of the delivery
// with the transaction's uuid): whether one of them is id.
func (h *harakaMTA) queued(t *testing.T, id string) bool {
	t.Helper()
	files, err := os.ReadDir(filepath.Join(h.dir, "queue"))
	must(t, err)
	for _, f := range files {
		if f.IsDir() || strings.HasPrefix(f.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(h.dir, "queue", f.Name()))
		if err != nil || len(b) < 4 {
			continue // removed meanwhile, or being written
		}
		n := binary.BigEndian.Uint32(b)
		if int(n)+4 > len(b) {
			continue
		}
		var todo struct {
			UUID string `json:"uuid"`
		}
		// The delivery's uuid is the transaction's with ".1" (the first destination) added.
		if json.Unmarshal(b[4:4+n], &todo) == nil && (todo.UUID == id || strings.HasPrefix(todo.UUID, id+".")) {
			return true
		}
	}
	return false
}

// reason is what Haraka (or the plugin, for what it decides itself) logs for each kind of
// deferral.
func (h *harakaMTA) reason(k deferral) string {
	switch k {
	case deferNoTLS: // Haraka's forced TLS (outbound/hmail.js, process_ehlo_data)
		return "No TLS available but required by configuration."
	case deferCertName: // Node's check of the MX host name, rejectUnauthorized under forced TLS
		return "Hostname/IP does not match certificate's altnames"
	case deferDANE: // the plugin's TLSA check at STARTTLS (lib/dane.js)
		return "DANE check failed, not delivering to this host: none of"
	case deferNoMX: // the plugin's MX filter
		return "matches its MTA-STS policy"
	case deferNoPolicy: // the plugin: no answer from mailtls
		return "mailtls unreachable or failed"
	}
	return "unknown deferral " + k.String()
}
