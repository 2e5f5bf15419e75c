package policy

import (
	"context"
	"testing"
)

// BenchmarkResolveCached measures the hot path: a cached MTA-STS policy and a cached
// negative answer, rendered as the Postfix reply (go test -bench ResolveCached -benchmem).
func BenchmarkResolveCached(b *testing.B) {
	h := newHarness(b, nil)
	h.sts("example.com", "1", policyText("enforce", 86400, "mx1.example.com", "*.example.net"))
	h.dns.Add("nopolicy.example. 300 IN A 192.0.2.1")
	ctx := context.Background()
	for _, key := range []string{"example.com", "nopolicy.example"} {
		if d := h.eng.Resolve(ctx, plain, key); d.CacheHit {
			b.Fatal("warm-up lookup was a hit")
		}
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := h.eng.Resolve(ctx, plain, key)
				_ = d.PostfixReply()
			}
		})
	}
}
