package policy

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/mailtls/mailtls/cache/sqlitestore"
)

// BenchmarkHotStoreEntryBytes measures what one hot-store entry of each family of the scale
// data costs: the heap it takes (runtime.MemStats.HeapAlloc after a collection, so the
// allocator's size classes are counted) and what the hot store's estimate charges for it
// (the cache.max_bytes budget), after a warm start (Load) and after every domain was
// asked once in the plain reply form (as the scale test's steady state) and then in the
// TLSRPT form. Each family gets a store of its own, loaded into a fresh engine: sts-own
// (an enforce policy naming the domain's own MX hosts: one policy per domain),
// sts-provider (the policy of one of scaleProviders hosting providers, shared) and
// negative (no MTA-STS record, NXDOMAIN, cached negatively).
//
//	go test -run '^$' -bench HotStoreEntryBytes -benchtime 1x ./policy
func BenchmarkHotStoreEntryBytes(b *testing.B) {
	const n = 50000 // domains per family
	families := []struct {
		name string
		of   func(i int) bool
	}{
		{"sts-own", func(i int) bool { return !scaleNegative(i) && i%2 == 0 }},
		{"sts-provider", func(i int) bool { return !scaleNegative(i) && i%2 == 1 }},
		{"negative", scaleNegative},
	}
	for _, f := range families {
		b.Run(f.name, func(b *testing.B) {
			var idx []int
			for i := 0; len(idx) < n; i++ {
				if f.of(i) {
					idx = append(idx, i)
				}
			}
			path := filepath.Join(b.TempDir(), "cache.db")
			generateScaleStoreOf(b, path, idx)
			for range b.N {
				measureEntryBytes(b, path, idx)
			}
		})
	}
}

// measureEntryBytes loads the store at path, which holds the scale domains idx, into a
// fresh engine and reports heap and estimated bytes per entry: loaded, then asked in the
// plain form, then in the TLSRPT form.
func measureEntryBytes(b *testing.B, path string, idx []int) {
	store, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	n := float64(len(idx))
	var before, ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	eng := scaleEngine(b, store, 0)
	if got, err := eng.Load(context.Background()); err != nil || got != len(idx) {
		b.Fatalf("Load = %d, %v; want %d", got, err, len(idx))
	}
	report := func(stage string) {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		s, d, m := eng.HotStoreBytes()
		b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(before.HeapAlloc))/n, stage+"-heap-B/entry")
		b.ReportMetric(float64(s+d+m)/n, stage+"-estimate-B/entry")
	}
	report("loaded")
	ctx := context.Background()
	var d Decision
	for _, i := range idx {
		eng.ResolveInto(ctx, plain, scaleDomain(i), &d)
		if got := d.PostfixReply(); got != scaleReply(i) {
			b.Fatalf("%s: %q, want %q", scaleDomain(i), got, scaleReply(i))
		}
	}
	report("plain")
	for _, i := range idx {
		eng.ResolveInto(ctx, tlsrpt, scaleDomain(i), &d)
	}
	report("tlsrpt")
	runtime.KeepAlive(eng)
}
