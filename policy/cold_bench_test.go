package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/mtasts"
)

// BenchmarkColdResolve measures a cold answer for a domain with both DANE and MTA-STS on
// the in-process lab, every DNS reply delayed by 5 ms. In the same run it measures the
// DANE chain alone, the MTA-STS chain alone and the two one after the other, so the
// engine's figure can be read against them: with the chains in parallel it should be
// close to the slower chain, not the sum (issue 3). Run as root (policy host on :443):
//
//	go test -run '^$' -bench ColdResolve -benchtime 40x ./policy
func BenchmarkColdResolve(b *testing.B) {
	const delay = 5 * time.Millisecond
	c := newColdLab(b, delay)
	l, dc, fetcher, ev := c.Lab, c.dc, c.fetcher, c.ev
	n := 0
	domain := func() string {
		n++
		d := fmt.Sprintf("d%d.example", n)
		l.DNS.Add(
			d+". 300 IN MX 10 mx."+d+".",
			"mx."+d+". 300 IN A 192.0.2.1",
			"_25._tcp.mx."+d+". 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		)
		l.STS(d, "1", lab.Policy("enforce", 86400, "mx."+d))
		return d
	}
	ctx := context.Background()
	stsChain := func(b *testing.B, d string) {
		if _, err := mtasts.LookupRecord(ctx, dc, d); err != nil {
			b.Fatal(err)
		}
		if _, err := fetcher.Fetch(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	daneChain := func(b *testing.B, d string) {
		if r, err := ev.Evaluate(ctx, d); err != nil || r.Outcome != dane.DANEOnly {
			b.Fatalf("dane: %v %v", r, err)
		}
	}
	run := func(name string, op func(b *testing.B, d string)) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				d := domain()
				b.StartTimer()
				op(b, d)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/answer")
		})
	}
	run("dane-chain", daneChain)
	run("sts-chain", stsChain)
	run("sequential", func(b *testing.B, d string) { daneChain(b, d); stsChain(b, d) })
	run("engine", func(b *testing.B, d string) {
		eng, err := New(Options{Resolver: dc, Fetcher: fetcher, DANE: ev})
		if err != nil {
			b.Fatal(err)
		}
		if got := eng.Resolve(ctx, plain, d); got.Level != "dane-only" {
			b.Fatalf("engine answered %q", got.PostfixReply())
		}
	})
}
