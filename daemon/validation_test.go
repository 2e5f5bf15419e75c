package daemon

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/lab"
)

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
	go d.watchValidation(ctx, 20*time.Millisecond, 20*time.Millisecond)

	wait := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for d.parts.Engine.DANEEnabled() != want {
			if time.Now().After(deadline) {
				t.Fatalf("DANE enabled = %v, want %v", !want, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	l.DNS.SetMode(lab.CheckBogus, 0, dnstest.Bogus) // the resolver now validates
	wait(true)
	l.DNS.SetMode(lab.CheckSigned, 0, dnstest.Insecure) // and stops validating
	wait(false)
}
