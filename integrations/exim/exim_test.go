package exim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
	"github.com/mailtls/mailtls/policy"
	"github.com/mailtls/mailtls/readsocket"
)

// eximRoot is the Debian root with exim4-daemon-heavy that scripts/install-test-deps.sh
// makes (Exim cannot be installed next to Postfix on the machine itself).
const eximRoot = "/var/cache/mailtls-test/bookworm-exim4-daemon-heavy"

// eximRunner runs the Exim under test: $MAILTLS_EXIM, else the one in eximRoot (through
// chroot), else exim4 from PATH. root is the directory Exim sees as /.
type eximRunner struct {
	argv []string
	root string
}

func newExim(t *testing.T) *eximRunner {
	testenv.Root(t, "exim -D and -C, and chroot into the Exim root")
	if p := os.Getenv("MAILTLS_EXIM"); p != "" {
		return &eximRunner{argv: []string{p}, root: "/"}
	}
	if fi, err := os.Stat(filepath.Join(eximRoot, "usr/sbin/exim4")); err == nil && fi.Mode()&0o111 != 0 {
		return &eximRunner{argv: []string{testenv.LookPath(t, "chroot", "coreutils"), eximRoot, "/usr/sbin/exim4"}, root: eximRoot}
	}
	return &eximRunner{argv: []string{testenv.LookPath(t, "exim4", "scripts/install-test-deps.sh makes "+eximRoot+", or set MAILTLS_EXIM=/path/to/exim4")}, root: "/"}
}

// tempDir is a directory Exim can reach, removed after the test.
func (e *eximRunner) tempDir(t *testing.T) string {
	t.Helper()
	base := filepath.Join(e.root, "tmp")
	dir, err := os.MkdirTemp(base, "mailtls-exim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// inside is path as Exim sees it.
func (e *eximRunner) inside(path string) string {
	if e.root == "/" {
		return path
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(path, e.root), "/")
}

func (e *eximRunner) command(args ...string) *exec.Cmd {
	return exec.Command(e.argv[0], append(e.argv[1:], args...)...)
}

// config assembles a whole Exim configuration from the three files, with what Debian's
// own configuration would add around them (local_domains, a spool and log in dir).
func config(t *testing.T, e *eximRunner, dir string) string {
	t.Helper()
	var b strings.Builder
	read := func(name string) {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	fmt.Fprintf(&b, "spool_directory = %s\nlog_file_path = %s/%%slog\nkeep_environment =\ndomainlist local_domains = localhost\ndns_dnssec_ok = 1\n", e.inside(dir), e.inside(dir))
	read("00_mailtls_macros")
	b.WriteString("\nbegin routers\n")
	read("150_mailtls")
	b.WriteString("\ndnslookup:\n  driver = dnslookup\n  domains = ! +local_domains\n  transport = remote_smtp\n  no_more\n")
	b.WriteString("\nbegin transports\n")
	read("30_mailtls")
	b.WriteString("\nremote_smtp:\n  driver = smtp\n")
	path := filepath.Join(dir, "exim.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// answers gives each test domain a fixed decision, as mailtls's Decide would.
type answers map[string]policy.Decision

func (a answers) Decide(_ context.Context, profile, key string, d *policy.Decision) (string, error) {
	if profile != "postfix" {
		return "", policy.ErrUnknownProfile
	}
	dec, ok := a[key]
	if !ok {
		dec = policy.Decision{Result: policy.NotFound, Source: policy.SourceDefault}
	}
	*d = dec
	return "", nil
}

// Issue 18: a real Exim accepts the configuration, and its router conditions — evaluated
// by Exim against the readsocket listener — defer on TEMP, PERM, an unsupported level and
// an unreachable mailtls; pick DANE, MTA-STS or the other levels as mailtls says; and keep
// only the MX hosts the MTA-STS policy allows.
func TestEximConfiguration(t *testing.T) {
	exim := newExim(t)
	dir := exim.tempDir(t)
	conf := exim.inside(config(t, exim, dir))
	if out, err := exim.command("-C", conf, "-bV").CombinedOutput(); err != nil || !strings.Contains(string(out), "Exim version") {
		t.Fatalf("exim -bV: %v\n%s", err, out)
	} else if strings.Contains(strings.ToLower(string(out)), "error") {
		t.Fatalf("exim -bV reports an error:\n%s", out)
	} else {
		t.Logf("%s", strings.SplitN(string(out), "\n", 2)[0])
	}

	sock := filepath.Join(dir, "rs.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sock, 0o666)
	srv := &readsocket.Server{Decider: answers{
		"sts.example": {Result: policy.OK, Level: "secure", Source: policy.SourceMTASTS, Servername: "hostname",
			STS: policy.STSPolicy{Domain: "sts.example", Mode: "enforce", MX: []string{"mx1.sts.example", "*.mail.sts.example"}}},
		"dane.example":    {Result: policy.OK, Level: "dane-only", Source: policy.SourceDANE},
		"danemay.example": {Result: policy.OK, Level: "dane", Source: policy.SourceDANE},
		"enc.example":     {Result: policy.OK, Level: "encrypt", Source: policy.SourceOverride},
		"fp.example":      {Result: policy.OK, Level: "fingerprint", Source: policy.SourceOverride, Match: []string{"AB:CD"}},
		"temp.example":    {Result: policy.Temp, Source: policy.SourceDeadline, Message: "answer deadline passed"},
		"perm.example":    {Result: policy.Perm, Source: policy.SourceInput, Message: "bad"},
	}, Profile: "postfix"}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, readsocket.ErrServerClosed) {
			t.Error(err)
		}
	})

	// eval has Exim expand expr for a recipient domain (the macros are overridden with -D:
	// -be has no $domain, and the MX hosts come from the test rather than DNS).
	eval := func(domain, socket, expr string) string {
		t.Helper()
		cmd := exim.command("-C", conf, "-DMAILTLS_SOCKET="+exim.inside(socket), "-DMAILTLS_DOMAIN="+domain,
			"-DMAILTLS_MX_SORTED=b.a.mail.sts.example:mx1.sts.example:evil.example:A.Mail.sts.example:mx1.sts.example.evil", "-be", expr)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("exim -be %s for %s: %v\n%s", expr, domain, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	cases := []struct {
		domain, socket                          string
		deferred, unsupported, dane, sts, other string
		level                                   string
	}{
		{"sts.example", sock, "false", "false", "false", "true", "false", "secure"},
		{"dane.example", sock, "false", "false", "true", "false", "false", "dane-only"},
		{"danemay.example", sock, "false", "false", "true", "false", "false", "dane"},
		{"enc.example", sock, "false", "false", "false", "false", "true", "encrypt"},
		{"fp.example", sock, "false", "true", "false", "false", "false", "fingerprint"},
		{"none.example", sock, "false", "false", "false", "false", "false", ""},
		{"temp.example", sock, "true", "false", "false", "false", "false", ""},
		{"perm.example", sock, "true", "false", "false", "false", "false", ""},
		{"sts.example", filepath.Join(dir, "absent.sock"), "true", "false", "false", "false", "false", ""},
	}
	for _, c := range cases {
		// Each condition is an "if" without strings: "true", or "" for false, which is
		// what a router's condition option takes.
		got := eval(c.domain, c.socket, "[MAILTLS_IF_DEFER]/[MAILTLS_IF_UNSUPPORTED]/[MAILTLS_IF_DANE]/[MAILTLS_IF_STS]/[MAILTLS_IF_OTHER]/MAILTLS_LEVEL")
		b := func(s string) string { return "[" + strings.TrimSuffix(s, "false") + "]" }
		want := strings.Join([]string{b(c.deferred), b(c.unsupported), b(c.dane), b(c.sts), b(c.other), c.level}, "/")
		if got != want {
			t.Errorf("%s via %s: defer/unsupported/dane/sts/other/level = %s, want %s", c.domain, filepath.Base(c.socket), got, want)
		}
	}
	if got := eval("sts.example", sock, "MAILTLS_MX_ALLOWED"); got != "mx1.sts.example:A.Mail.sts.example" {
		t.Errorf("MTA-STS hosts %q, want mx1.sts.example:A.Mail.sts.example (one label for *, exact names, preference order kept)", got)
	}
	if got := eval("temp.example", sock, "mailtls: MAILTLS_RESULT ${extract{message}{MAILTLS_ANSWER}}"); got != "mailtls: TEMP answer_deadline_passed" {
		t.Errorf("defer text %q", got)
	}
}

// Issue 18: the three files dropped into Debian's own split configuration (conf.d, as the
// README says) give a configuration Exim accepts, with the mailtls routers before Debian's
// dnslookup router.
func TestDebianSplitConfiguration(t *testing.T) {
	exim := newExim(t)
	if exim.root != eximRoot {
		testenv.Missing(t, "the Debian root "+eximRoot+" with update-exim4.conf (scripts/install-test-deps.sh)")
	}
	dir := exim.tempDir(t)
	conf := filepath.Join(dir, "exim4")
	if out, err := exec.Command("cp", "-a", filepath.Join(eximRoot, "etc/exim4"), conf).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	settings := filepath.Join(conf, "update-exim4.conf.conf")
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(settings, []byte(strings.ReplaceAll(string(b), "dc_use_split_config='false'", "dc_use_split_config='true'")), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]string{"00_mailtls_macros": "main", "150_mailtls": "router", "30_mailtls": "transport"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(conf, "conf.d", sub, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "exim4.conf")
	if o, err := exec.Command("chroot", eximRoot, "update-exim4.conf", "-d", exim.inside(conf), "-o", exim.inside(out)).CombinedOutput(); err != nil {
		t.Fatalf("update-exim4.conf: %v\n%s", err, o)
	}
	if o, err := exim.command("-C", exim.inside(out), "-bV").CombinedOutput(); err != nil {
		t.Fatalf("exim -bV on Debian's split configuration with mailtls's files: %v\n%s", err, o)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(got)
	iDefer, iSTS, iDNS := strings.Index(text, "\nmailtls_defer:"), strings.Index(text, "\nmailtls_sts:"), strings.Index(text, "\ndnslookup:")
	if iDefer < 0 || iSTS < 0 || iDNS < 0 || iDefer > iDNS || iSTS > iDNS {
		t.Fatalf("router order in the generated configuration: mailtls_defer at %d, mailtls_sts at %d, dnslookup at %d", iDefer, iSTS, iDNS)
	}
}
