package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testpki"
)

// syncBuffer is a log sink the test reads while the daemon writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Issue 11: a reload applies every mta_sts setting at once — the allowed addresses (the
// SSRF guard), the CA file, the fetch limits and the timers — and names, at warn level,
// each changed setting that needs a restart (listen.max_connections, listen.idle_timeout…)
// without naming the ones it applied.
func TestReloadAppliesMTASTS(t *testing.T) {
	l := lab.New(t)
	for _, d := range []string{"before.example", "after.example", "otherca.example"} {
		l.STS(d, "1", lab.Policy("enforce", 86400, "mx."+d))
	}
	base := l.Config("", "127.0.0.1:1", t.TempDir()) + "cache: {store: none}\n"
	refused := strings.Replace(base, `, allow_addresses: ["127.0.0.0/8"]`, "", 1)
	if refused == base {
		t.Fatal("lab configuration no longer allows loopback explicitly")
	}
	parse := func(yaml string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(yaml), "reload.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	logs := &syncBuffer{}
	d, err := New(parse(refused), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(domain string) string { return d.Lookup(context.Background(), "postfix", domain) }

	if got := ask("before.example"); got != "NOTFOUND " {
		t.Fatalf("loopback policy host before the reload: %q, want NOTFOUND (refused by the guard)", got)
	}
	// allow_addresses, failure_retry and refresh_interval change; so do two listen settings.
	next := strings.Replace(base, "fetch_timeout: 3s", "fetch_timeout: 4s, failure_retry: 7m, refresh_interval: 5h, txt_ttl_min: 3s", 1)
	next = strings.Replace(next, "listen:\n", "listen:\n  max_connections: 77\n  idle_timeout: 45s\n", 1)
	if err := d.Reload(parse(next)); err != nil {
		t.Fatal(err)
	}
	if got := ask("after.example"); !strings.HasPrefix(got, "OK secure match=mx.after.example") {
		t.Errorf("loopback policy host after allow_addresses was reloaded: %q", got)
	}
	if tm := d.parts.Engine.STSTimers(); tm.FetchTimeout != 4*time.Second || tm.FailureRetry != 7*time.Minute || tm.RefreshInterval != 5*time.Hour || tm.TXTTTLMin != 3*time.Second {
		t.Errorf("timers after the reload: %+v", tm)
	}
	warns := ""
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			warns += line + "\n"
		}
	}
	for _, key := range []string{"listen.max_connections", "listen.idle_timeout"} {
		if !strings.Contains(warns, key) {
			t.Errorf("warning does not name %s as needing a restart:\n%s", key, warns)
		}
	}
	if strings.Contains(warns, "mta_sts") || strings.Contains(warns, "listen.socketmap") {
		t.Errorf("warning names a setting that was applied or did not change:\n%s", warns)
	}

	// A CA file of another authority, reloaded, is what the next fetch verifies against.
	other := testpki.NewCA(t, "another CA").WriteFile(t, t.TempDir())
	if err := d.Reload(parse(strings.Replace(base, l.CAFile, other, 1))); err != nil {
		t.Fatal(err)
	}
	if got := ask("otherca.example"); got != "NOTFOUND " {
		t.Errorf("policy host whose CA is no longer trusted: %q, want NOTFOUND", got)
	}
}

func TestRestartNeeded(t *testing.T) {
	parse := func(yaml string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(yaml), "r.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	running := parse("{}")
	tests := []struct {
		yaml string
		want string
	}{
		{"{}", ""},
		{"mta_sts: {fetch_timeout: 5s, allow_addresses: [10.0.0.0/8]}\noverrides: [{domain: a.example, level: encrypt}]\nprofiles: {p: {}}\naudit: {file: \"-\"}\n", ""},
		{"listen: {max_connections: 10, idle_timeout: 2m}", "listen.max_connections, listen.idle_timeout"},
		{"listen: {socketmap: [{tcp: \"127.0.0.1:9\"}]}", "listen.socketmap"},
		{"resolver: {servers: [\"127.0.0.1:53\"], timeout: 3s}\ncache: {max_entries: 5}\nmetrics: {listen: \"127.0.0.1:9\"}\nstate_dir: /x\nlog: {level: debug}\ndane: {check_signed: a.example}",
			"state_dir, log.level, resolver.servers, resolver.timeout, dane.check_signed, cache.max_entries, metrics.listen"},
	}
	for _, tt := range tests {
		if got := strings.Join(restartNeeded(running, parse(tt.yaml)), ", "); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.yaml, got, tt.want)
		}
	}
}
