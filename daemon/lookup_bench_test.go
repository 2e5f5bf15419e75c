package daemon

import (
	"context"
	"log/slog"
	"testing"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
)

// BenchmarkLookupCached measures the daemon's socketmap handler on cached keys: profile
// selection, the answer deadline, Resolve, the reply, metrics and (off) audit log, as the
// socketmap server calls it for every request (go test -bench LookupCached -benchmem).
func BenchmarkLookupCached(b *testing.B) {
	l := lab.New(b)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example", "*.sts.example"))
	l.DNS.Add("none.example. 300 IN A 192.0.2.11")
	dir := b.TempDir()
	yaml := l.Config("", lab.FreeAddr(b), dir) + `
overrides:
  - {domain: over.example, level: secure, match: [mx.over.example]}
profiles:
  dry: {report_only: true}
`
	cfg, err := config.Parse([]byte(yaml), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ profile, key string }{
		{"postfix", "sts.example"}, {"postfix", "none.example"}, {"postfix", "over.example"}, {"dry", "sts.example"},
	} {
		d.Lookup(ctx, c.profile, c.key) // warm the cache
		b.Run(c.profile+"/"+c.key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = d.Lookup(ctx, c.profile, c.key)
			}
		})
	}
}
