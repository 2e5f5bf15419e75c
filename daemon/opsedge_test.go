package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/policy"
	"github.com/mailtls/mailtls/socketmap"
)

// plainConfig is a daemon configuration on the in-process resolver s with state in dir
// and the control socket at control ("" for the default in dir).
func plainConfig(t *testing.T, s *dnstest.Server, dir, control string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
state_dir: %s
resolver: {servers: ["%s"], timeout: 200ms}
dane: {check_signed: "%s", check_bogus: "%s"}
listen: {socketmap: [{tcp: "%s"}], control: "%s"}
`, dir, s.Addr, lab.CheckSigned, lab.CheckBogus, lab.FreeAddr(t), control)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Issue 11: a second serve on the same state directory (or the same control socket) is
// refused with a clear error before it touches anything; the running daemon's control
// socket stays and answers. Once the first has stopped, the directory can be used again.
func TestSecondServeKeepsControlSocket(t *testing.T) {
	s := dnstest.New(t)
	s.Add(lab.CheckSigned+" 300 IN A 127.0.0.1", lab.CheckBogus+" 300 IN A 127.0.0.1")
	s.SetMode(lab.CheckBogus, 0, dnstest.Bogus)
	dir := t.TempDir()
	cfg := plainConfig(t, s, dir, "")
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	ctl := NewControl(cfg.ControlPath())
	answers := func() error {
		var out []policy.CacheEntry
		return ctl.Call(context.Background(), "GET", "/v1/cache", nil, &out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for answers() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the first daemon's control socket never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if _, err := New(plainConfig(t, s, dir, ""), slog.New(slog.DiscardHandler)); !errors.Is(err, ErrStateDirInUse) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second serve on the same state directory: %v, want ErrStateDirInUse naming %s", err, dir)
	}
	other := plainConfig(t, s, t.TempDir(), cfg.ControlPath())
	if _, err := New(other, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrControlInUse) {
		t.Errorf("second serve on the same control socket: %v, want ErrControlInUse", err)
	}
	if err := answers(); err != nil {
		t.Fatalf("the first daemon's control socket after the second serve: %v", err)
	}

	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	d2, err := New(plainConfig(t, s, dir, ""), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("serve after the first stopped: %v", err)
	}
	d2.stateLock.Close()
}

// Issue 11: a stale control socket (nobody answers) is replaced, as before.
func TestStaleControlSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := listenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(path); !errors.Is(err, ErrControlInUse) {
		t.Fatalf("listening over a live socket: %v, want ErrControlInUse", err)
	}
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nobody answers: stale
	if _, err := os.Lstat(path); err != nil {
		t.Fatal(err)
	}
	ln2, err := listenControl(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln2.Close()
}

// Issue 11: with the postfix-tlsrpt profile, a policy built to blow up the attribute form
// (2,500 mx lines, or thousands of short extension lines: each is repeated as
// mx_host_pattern and policy_string) is never answered PERM: the reply stays within
// Postfix's 100 000-byte socketmap limit and enforces the policy. (The engine's
// per-domain bounds keep such policies small; Lookup would answer the plain form, with a
// log line, if an attribute form were still too long: policy/TestPostfixReplyWithin.)
func TestTLSRPTReplyWithinLimit(t *testing.T) {
	l := lab.New(t)
	var mx []string
	for i := range 2500 {
		mx = append(mx, fmt.Sprintf("mx%04d.big.example", i))
	}
	l.STS("big.example", "1", lab.Policy("enforce", 86400, mx...))
	ext := lab.Policy("enforce", 86400, "mx.ext.example")
	for i := 0; len(ext) < 60000; i++ {
		ext += fmt.Sprintf("x%d: y\r\n", i)
	}
	l.STS("ext.example", "1", ext)
	cfg, err := config.Parse([]byte(l.Config("", lab.FreeAddr(t), t.TempDir())+"cache: {store: none}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ domain, match string }{
		{"big.example", "OK secure match=mx0000.big.example:"},
		{"ext.example", "OK secure match=mx.ext.example "},
	} {
		for range 2 { // the second answer comes from the hot store
			got := d.Lookup(context.Background(), "postfix-tlsrpt", tc.domain)
			if !strings.HasPrefix(got, tc.match) || len(got) > socketmap.DefaultMaxReply {
				t.Fatalf("%s: %.100q… (%d bytes)", tc.domain, got, len(got))
			}
			t.Logf("%s: %d bytes", tc.domain, len(got))
		}
	}
}
