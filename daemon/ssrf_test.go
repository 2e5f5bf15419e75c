package daemon

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
)

// Issue 7 SSRF guard: a policy host that resolves to a loopback (or private, link-local…)
// address is refused unless mta_sts.allow_addresses lists it, and the refusal is a fetch
// error that says why.
func TestPolicyHostAddressGuard(t *testing.T) {
	l := lab.New(t)
	l.STS("inside.example", "1", lab.Policy("enforce", 86400, "mx.inside.example"))
	allowed := l.Config("", "127.0.0.1:1", t.TempDir())
	refused := strings.Replace(allowed, `, allow_addresses: ["127.0.0.0/8"]`, "", 1)
	if refused == allowed {
		t.Fatal("lab configuration no longer allows loopback explicitly")
	}
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"loopback refused by default", refused, "NOTFOUND "},
		{"loopback allowed explicitly", allowed, "OK secure match=mx.inside.example servername=hostname"},
	} {
		cfg, err := config.Parse([]byte(tt.yaml+"cache: {store: none}\n"), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		parts, err := Build(cfg, slog.New(slog.DiscardHandler), false)
		if err != nil {
			t.Fatal(err)
		}
		fetchesBefore := l.Fetches("inside.example")
		d := parts.Engine.Resolve(context.Background(), parts.Profiles["postfix"], "inside.example")
		if got := d.PostfixReply(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
		if tt.want == "NOTFOUND " {
			all := strings.Join(d.Reasons(), "\n")
			if !strings.Contains(all, "sts-policy-fetch-error") || !strings.Contains(all, "is loopback") {
				t.Errorf("%s: the refusal is not reported as a fetch error with its reason:\n%s", tt.name, all)
			}
			if l.Fetches("inside.example") != fetchesBefore {
				t.Errorf("%s: the policy host was contacted", tt.name)
			}
		}
	}
}
