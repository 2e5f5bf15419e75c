package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
)

// eximRoot is the Debian 12 root with exim4-daemon-heavy (Exim 4.96) that
// scripts/install-test-deps.sh builds with mmdebstrap: Exim cannot be installed next to
// the machine's Postfix.
const eximRoot = "/var/cache/mailtls-test/bookworm-exim4-daemon-heavy"

// eximHostname is the sending Exim's primary host name.
const eximHostname = "exim.e2e.test"

// exim is a sending Exim 4.96 chrooted in a copy of the Debian 12 root made for this run,
// inside the namespace, configured as README.md "Exim" tells an operator: Debian's split
// configuration with integrations/exim's three files in conf.d. There is no daemon: a
// message is submitted with exim -odi (delivered by the submitting process) and retried
// with exim -M, so Exim never retries on its own.
type exim struct {
	w         *world
	root      string
	chrootBin string
	mainlog   string
}

var _ sendingMTA = (*exim)(nil)

func (e *exim) name() string { return "Exim 4.96" }

// command prepares Exim (or another program of the root) to run chrooted in the root,
// inside the namespace: it resolves through the namespace's Unbound.
func (e *exim) command(args ...string) *exec.Cmd {
	return e.w.ns.command(e.chrootBin, append([]string{e.root}, args...)...)
}

func (e *exim) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("exim: chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyRoot copies the Debian root for this run: everything Exim or the test may write
// (etc, var, run, tmp…) as a real copy, /usr (read-only for Exim) as hard links when the
// file system allows, which makes the copy about four times faster.
func copyRoot(t *testing.T, from, to string) {
	t.Helper()
	must(t, os.MkdirAll(to, 0o755))
	entries, err := os.ReadDir(from)
	must(t, err)
	for _, ent := range entries {
		src, dst := filepath.Join(from, ent.Name()), filepath.Join(to, ent.Name())
		if ent.Name() == "usr" {
			if err := exec.Command("cp", "-al", src, dst).Run(); err == nil {
				continue
			}
			os.RemoveAll(dst)
		}
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", src, err, out)
		}
	}
}

// startExim sets up the sending Exim for this run. What README.md tells an operator:
// the three files of integrations/exim in /etc/exim4/conf.d/{main,router,transport},
// dc_use_split_config='true', update-exim4.conf, exim -bV; the one macro an operator sets
// to their mailtls, MAILTLS_SOCKET, names mailtls's readsocket listener. What the machine
// gives an MTA: /etc/resolv.conf pointing at the namespace's validating Unbound with
// trust-ad (so Exim sees the AD bit DANE needs, RFC 7672 §2.1) and the test CA as the
// system's trust store (what "tls_verify_certificates = system" reads). What a test
// instance adds: its host name, through Debian's local macros. Debian's default
// log_selector already logs what the scenarios check (X=, CV=, DN=).
func (w *world) startExim(t *testing.T) *exim {
	t.Helper()
	chrootBin := testenv.LookPath(t, "chroot", "coreutils")
	if _, err := os.Stat(filepath.Join(eximRoot, "usr/sbin/exim4")); err != nil {
		testenv.Missing(t, "no Debian 12 root with exim4-daemon-heavy at "+eximRoot+" (scripts/install-test-deps.sh builds it)")
	}
	start := time.Now()
	e := &exim{w: w, root: filepath.Join(w.dir, "exim"), chrootBin: chrootBin}
	copyRoot(t, eximRoot, e.root)
	e.mainlog = filepath.Join(e.root, "var/log/exim4/mainlog")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(e.mainlog)
			t.Logf("---- Exim mainlog\n%s", tail(string(b), 120))
			if b, _ := os.ReadFile(filepath.Join(e.root, "var/log/exim4/paniclog")); len(b) > 0 {
				t.Logf("---- Exim paniclog\n%s", b)
			}
		}
	})
	write := func(rel, content string) {
		p := filepath.Join(e.root, rel)
		os.Remove(p) // never write through a link into the shared root
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("etc/resolv.conf", "nameserver "+addrUnbound+"\noptions edns0 trust-ad\n")
	ca, err := os.ReadFile(w.caFile)
	must(t, err)
	write("etc/ssl/certs/ca-certificates.crt", string(ca))
	write("etc/mailname", eximHostname+"\n")

	// README.md "Exim": the files into Debian's conf.d.
	for name, sub := range map[string]string{"00_mailtls_macros": "main", "150_mailtls": "router", "30_mailtls": "transport"} {
		b, err := os.ReadFile(filepath.Join("..", "integrations", "exim", name))
		must(t, err)
		s := string(b)
		if name == "00_mailtls_macros" {
			s = setMacro(t, s, "MAILTLS_SOCKET", "inet:"+readsocketTCP)
		}
		write(filepath.Join("etc/exim4/conf.d", sub, name), s)
	}
	write("etc/exim4/update-exim4.conf.conf", strings.Join([]string{
		"dc_eximconfig_configtype='internet'",
		"dc_other_hostnames='" + eximHostname + "'",
		"dc_local_interfaces='127.0.0.1'",
		"dc_readhost=''", "dc_relay_domains=''", "dc_minimaldns='false'", "dc_relay_nets=''",
		"dc_smarthost=''", "CFILEMODE='644'",
		"dc_use_split_config='true'",
		"dc_hide_mailname=''", "dc_mailname_in_oh='true'", "dc_localdelivery='mail_spool'",
	}, "\n")+"\n")
	// Debian's place for local macros in a split configuration (read first): the host
	// name, or Exim would take the machine's.
	write("etc/exim4/conf.d/main/000_localmacros", "MAIN_HARDCODE_PRIMARY_HOSTNAME = "+eximHostname+"\n")
	e.run(t, "update-exim4.conf")
	out := e.run(t, "/usr/sbin/exim4", "-bV")
	if strings.Contains(strings.ToLower(out), "error") || !strings.Contains(out, "Exim version 4.96") {
		t.Fatalf("exim -bV:\n%s", out)
	}
	conf, err := os.ReadFile(filepath.Join(e.root, "var/lib/exim4/config.autogenerated"))
	must(t, err)
	if !strings.Contains(string(conf), "\nmailtls_sts:") {
		t.Fatal("update-exim4.conf's configuration has no mailtls_sts router")
	}
	t.Logf("Exim: %s, set up in %v", strings.SplitN(out, "\n", 2)[0], time.Since(start).Round(time.Millisecond))
	return e
}

// setMacro changes the value of macro NAME in an Exim configuration text, as an operator
// editing the file would; the macro must be there.
func setMacro(t *testing.T, conf, name, value string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` = .*$`)
	if !re.MatchString(conf) {
		t.Fatalf("no macro %s in the configuration", name)
	}
	return re.ReplaceAllLiteralString(conf, name+" = "+value)
}

func (e *exim) logSize() int64 {
	st, err := os.Stat(e.mainlog)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (e *exim) logSince(mark int64) string {
	b, err := os.ReadFile(e.mainlog)
	if err != nil || mark > int64(len(b)) {
		return ""
	}
	return string(b[mark:])
}

// eximID is an Exim 4.96 message id.
var eximID = `[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}`

// send submits the message on Exim's command line (exim -odi: the submitting process
// delivers it before it exits) and finds its id in the reception line, by Message-ID.
func (e *exim) send(t *testing.T, rcpt, tok string) (string, int64) {
	t.Helper()
	mark := e.logSize()
	msgID := tok + "@" + eximHostname
	cmd := e.command("/usr/sbin/exim4", "-odi", "-f", senderDefault, rcpt)
	cmd.Stdin = strings.NewReader("From: " + senderDefault + "\nTo: " + rcpt + "\nSubject: mailtls e2e " + tok +
		"\nMessage-ID: <" + msgID + ">\nX-E2E-Token: " + tok + "\n\nmailtls end-to-end test message " + tok + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exim -odi: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^\S+ \S+ (` + eximID + `) <= .* id=` + regexp.QuoteMeta(msgID) + `$`)
	m := re.FindStringSubmatch(e.logSince(mark))
	if m == nil {
		t.Fatalf("Exim logged no reception of %s:\n%s", msgID, e.logSince(mark))
	}
	t.Logf("sent %s to %s through Exim as %s", tok, rcpt, m[1])
	return m[1], mark
}

// Exim's delivery lines (spec chapter "Log files"): "=>" delivered, "==" deferred,
// "**" failed; H=host [address], X=TLS cipher, CV=yes|no|dane, DN=peer's subject.
var (
	eximLineRE = regexp.MustCompile(`^\S+ \S+ (` + eximID + `) (=>|==|\*\*) (.*)$`)
	eximHostRE = regexp.MustCompile(`\bH=(\S+) \[([^\]]+)\]`)
	eximCVRE   = regexp.MustCompile(`\bCV=(\w+)`)
)

// parseEximAttempt finds the first delivery line of id in log text: the attempt, with
// every line of id up to it.
func parseEximAttempt(text, id string) (mtaAttempt, bool) {
	var a mtaAttempt
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, " "+id+" ") {
			continue
		}
		a.lines = append(a.lines, l)
		m := eximLineRE.FindStringSubmatch(l)
		if m == nil || m[1] != id {
			continue
		}
		if h := eximHostRE.FindStringSubmatch(m[3]); h != nil {
			a.host, a.addr = h[1], h[2]
		}
		switch m[2] {
		case "=>":
			a.delivered = true
			a.tls = strings.Contains(m[3], " X=TLS")
			if cv := eximCVRE.FindStringSubmatch(m[3]); cv != nil {
				switch cv[1] {
				case "yes":
					a.verified = "ca"
				case "dane":
					a.verified = "dane"
				}
			}
		default:
			a.reason = m[3]
		}
		return a, true
	}
	return a, false
}

func (e *exim) waitAttempt(t *testing.T, id string, mark int64) mtaAttempt {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if a, ok := parseEximAttempt(e.logSince(mark), id); ok {
			for _, l := range a.lines {
				t.Logf("Exim: %s", l)
			}
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("Exim logged no delivery attempt of %s within 60 s:\n%s", id, e.logSince(mark))
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// retry forces a delivery attempt of id (exim -M: retry times ignored), in the foreground.
func (e *exim) retry(t *testing.T, id string) int64 {
	t.Helper()
	mark := e.logSize()
	e.run(t, "/usr/sbin/exim4", "-M", id)
	return mark
}

// queued lists Exim's queue (exim -bp) and looks for id.
func (e *exim) queued(t *testing.T, id string) bool {
	t.Helper()
	return strings.Contains(e.run(t, "/usr/sbin/exim4", "-bp"), " "+id+" ")
}

// reason: what Exim 4.96 logs with each kind of deferral.
func (e *exim) reason(k deferral) string {
	switch k {
	case deferNoTLS:
		return "a TLS session is required, but the server did not offer TLS support"
	case deferCertName:
		return "TLS session: (certificate verification failed)"
	case deferDANE:
		// GnuTLS's DANE verification: no TLSA record matches the certificate.
		return "TLS session: (certificate verification failed): Verification failed. The certificate differs."
	case deferNoMX:
		return "mailtls: no MX host of " + domMXOutside + " matches its MTA-STS policy"
	case deferNoPolicy:
		return "mailtls: TEMP mailtls_unreachable"
	}
	return "?"
}
