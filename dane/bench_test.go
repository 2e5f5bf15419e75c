package dane

import (
	"context"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// BenchmarkEvaluateParallel evaluates a domain with three DANE MX hosts against a
// resolver that delays every reply by 5 ms, and reports next to ns/op what the same
// queries would cost one after the other. Host lookups run concurrently and A/AAAA in
// parallel, so a domain costs its slowest chain (MX, addresses, TLSA ≈ 3 delays), not
// the sum. Informational only: no time is asserted.
func BenchmarkEvaluateParallel(b *testing.B) {
	const delay = 5 * time.Millisecond
	s := dnstest.New(b)
	s.Add("example. 300 IN MX 10 mx1.example.", "example. 300 IN MX 20 mx2.example.",
		"example. 300 IN MX 30 mx3.example.")
	for _, h := range []string{"mx1.example.", "mx2.example.", "mx3.example."} {
		s.Add(daneHost(h)...)
	}
	s.SetDelay(delay)
	e := newEvaluator(b, s)
	ctx := context.Background()
	before := s.Queries()
	b.ResetTimer()
	for b.Loop() {
		r, err := e.Evaluate(ctx, "example")
		if err != nil || r.Outcome != DANEOnly {
			b.Fatalf("%v %v", r, err)
		}
	}
	b.StopTimer()
	perOp := float64(s.Queries()-before) / float64(b.N)
	sequential := perOp * float64(delay.Nanoseconds())
	b.ReportMetric(perOp, "queries/op")
	b.ReportMetric(sequential, "sequential-ns/op")
	b.Logf("%.0f queries per evaluation × %v = %v if sequential; measured ns/op above",
		perOp, delay, time.Duration(sequential))
}
