package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
)

// benchDaemon builds a daemon on a lab with an MTA-STS domain, a domain without policy, an
// override and a report-only profile; extra is appended to its configuration.
func benchDaemon(b *testing.B, extra string) *Daemon {
	l := lab.New(b)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example", "*.sts.example"))
	l.DNS.Add("none.example. 300 IN A 192.0.2.11")
	dir := b.TempDir()
	yaml := l.Config("", lab.FreeAddr(b), dir) + `
overrides:
  - {domain: over.example, level: secure, match: [mx.over.example]}
profiles:
  dry: {report_only: true}
` + extra
	cfg, err := config.Parse([]byte(yaml), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return d
}

var benchLookups = []struct{ profile, key string }{
	{"postfix", "sts.example"}, {"postfix", "none.example"}, {"postfix", "over.example"}, {"dry", "sts.example"},
}

// BenchmarkLookupCached measures the daemon's socketmap handler on cached keys: profile
// selection, the answer deadline, Resolve, the reply, metrics and (off) audit log, as the
// socketmap server calls it for every request (go test -bench LookupCached -benchmem).
func BenchmarkLookupCached(b *testing.B) {
	d := benchDaemon(b, "")
	ctx := context.Background()
	for _, c := range benchLookups {
		d.Lookup(ctx, c.profile, c.key) // warm the cache
		b.Run(c.profile+"/"+c.key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = d.Lookup(ctx, c.profile, c.key)
			}
		})
	}
}

// BenchmarkLookupCachedAudited is BenchmarkLookupCached with the audit log on, written to
// a file (a JSON line per answer with its reasons, or with the domain hashed and no
// reasons): what an operator who keeps the audit log pays per answer.
func BenchmarkLookupCachedAudited(b *testing.B) {
	for _, hashed := range []bool{false, true} {
		extra := fmt.Sprintf("audit: {file: %s}\n", filepath.Join(b.TempDir(), "audit.log"))
		if hashed {
			extra = fmt.Sprintf("audit: {file: %s, hash_domains: true, hash_key: %s}\n",
				filepath.Join(b.TempDir(), "audit.log"), "0123456789abcdef0123456789abcdef")
		}
		d := benchDaemon(b, extra)
		ctx := context.Background()
		for _, c := range benchLookups {
			d.Lookup(ctx, c.profile, c.key)
			b.Run(fmt.Sprintf("hashed=%v/%s/%s", hashed, c.profile, c.key), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = d.Lookup(ctx, c.profile, c.key)
				}
			})
		}
	}
}
