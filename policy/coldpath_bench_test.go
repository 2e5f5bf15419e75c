package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/mtasts"
)

// coldLab is the in-process lab behind the cold-path benchmark and tests: DNS with a
// per-reply delay and an HTTPS policy host, and engines configured as the daemon's
// defaults (DANE stage on, SQLite store) resolving through them.
type coldLab struct {
	*lab.Lab
	dc      *dnsclient.Client
	fetcher *mtasts.Fetcher
	ev      *dane.Evaluator
	eng     *Engine
	noDANE  *Engine // the same without the DANE stage (profile dane: off)
	n       int
}

func newColdLab(tb testing.TB, delay time.Duration) *coldLab {
	l := lab.New(tb)
	l.DNS.SetDelay(delay)
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{l.DNS.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	fetcher := mtasts.NewFetcher(mtasts.FetcherConfig{Dial: dc.DialContext, RootCAs: l.CA.Pool()})
	ev := &dane.Evaluator{Resolver: dc}
	return &coldLab{Lab: l, dc: dc, fetcher: fetcher, ev: ev,
		eng: newStoredEngine(tb, Options{Resolver: dc, Fetcher: fetcher, DANE: ev}), noDANE: newStoredEngine(tb, Options{Resolver: dc, Fetcher: fetcher})}
}

// newStoredEngine builds an engine as the daemon runs it by default (cache.store:
// sqlite): with a persistent store of its own, in the state reached once Load has read
// it at start-up.
func newStoredEngine(tb testing.TB, opt Options) *Engine {
	store, err := sqlitestore.Open(filepath.Join(tb.TempDir(), "cache.db"), sqlitestore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	opt.Backend = store
	eng, err := New(opt)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := eng.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return eng
}

// domain publishes a never-seen domain of the given kind and returns it with the reply
// the engine must give:
//
//	sts:     MTA-STS enforce, one MX without TLSA (DANE looks and finds nothing usable)
//	dane:    one MX with a TLSA record, no MTA-STS
//	neither: an address record only (implicit MX, RFC 5321 §5.1), no TLSA, no MTA-STS
func (c *coldLab) domain(kind string) (string, string) {
	c.n++
	d := fmt.Sprintf("%s%d.example", kind, c.n)
	mx := "mx." + d
	switch kind {
	case "sts":
		c.DNS.Add(d+". 300 IN MX 10 "+mx+".", mx+". 300 IN A 192.0.2.1")
		c.STS(d, "1", lab.Policy("enforce", 86400, mx))
		return d, "OK secure match=" + mx + " servername=hostname"
	case "dane":
		c.DNS.Add(d+". 300 IN MX 10 "+mx+".", mx+". 300 IN A 192.0.2.1",
			"_25._tcp."+mx+". 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		return d, "OK dane-only"
	default:
		c.DNS.Add(d + ". 300 IN A 192.0.2.1")
		return d, "NOTFOUND "
	}
}

// coldFamilies are the domain families BenchmarkColdPath measures: MTA-STS, DANE and
// neither (conformance.md §2: each decision runs the DANE and MTA-STS stages), and the
// MTA-STS family answered by an engine without the DANE stage.
var coldFamilies = []string{"dane", "neither", "sts", "sts-nodane"}

// engineFor returns the engine and the domain kind of a family.
func (c *coldLab) engineFor(family string) (*Engine, string) {
	if family == "sts-nodane" {
		return c.noDANE, "sts"
	}
	return c.eng, family
}

// BenchmarkColdPath answers never-seen domains of each family with every DNS reply
// delayed as given and reports per cold answer, from the iterations kept after a warm-up
// (coldWarmup):
//
//	ms/answer     the engine's answer, median
//	floor-ms      the floor, median: the same DNS and HTTPS work done directly (coldFloor)
//	x-floor       the median of the per-iteration ratios engine/floor
//	x-medians     ms/answer / floor-ms
//	x-means       the engine's mean answer time / the floor's mean (the tail included)
//	p90-ms        the engine's answer, 90th percentile
//	floor-p90-ms  the floor, 90th percentile
//	x-floor-p90   the 90th percentile of the per-iteration ratios
//	x-p90s        p90-ms / floor-p90-ms: the engine's tail against the floor's
//	dns/answer    DNS queries counted at the lab's DNS server for the engine, mean
//	floor-dns     the same for the floor
//	https/answer  HTTPS policy fetches, mean
//	load1         the machine's 1-minute load average, the higher of start and end
//
// Each iteration times one floor and one engine answer, each on a never-seen domain of
// the family, back to back and in alternating order (floor first on even iterations), so
// that load from elsewhere on the machine hits both alike and neither always runs second.
// Medians and per-iteration ratios keep a burst of load from deciding a run; the p90
// shows the tail. Root is needed (the policy host listens on :443):
//
//	go test -run '^$' -bench ColdPath -benchtime 300x ./policy
//
// MAILTLS_COLD_BALLAST_MB=N answers beside a pointer-rich heap of N MB (coldBallast), to
// see what the collector's pacing costs a cold answer in a daemon with a large hot store.
func BenchmarkColdPath(b *testing.B) {
	ballast := coldBallast(b) // MAILTLS_COLD_BALLAST_MB: a heap the size of a large hot store
	defer runtime.KeepAlive(ballast)
	for _, delay := range []time.Duration{0, 2 * time.Millisecond} {
		c := newColdLab(b, delay)
		floor := c.newFloor()
		ctx := context.Background()
		for _, family := range coldFamilies {
			eng, kind := c.engineFor(family)
			b.Run(fmt.Sprintf("delay=%v/%s", delay, family), func(b *testing.B) {
				load := loadAverage()
				var s coldSamples
				var queries, floorQueries, fetches int
				runFloor := func() time.Duration {
					fd, _ := c.domain(kind)
					q0 := c.DNS.Queries()
					t0 := time.Now()
					floor.run(b, family, fd)
					t := time.Since(t0)
					floorQueries += c.DNS.Queries() - q0
					return t
				}
				runEngine := func() time.Duration {
					d, want := c.domain(kind)
					q0 := c.DNS.Queries()
					t0 := time.Now()
					got := eng.Resolve(ctx, plain, d)
					t := time.Since(t0)
					queries += c.DNS.Queries() - q0
					if r := got.PostfixReply(); r != want {
						b.Fatalf("%s: %q, want %q", d, r, want)
					}
					fetches += c.Fetches(d)
					return t
				}
				for i := 0; b.Loop(); i++ {
					if i%2 == 0 {
						f := runFloor()
						s.add(runEngine(), f)
					} else {
						e := runEngine()
						s.add(e, runFloor())
					}
				}
				st := s.stats()
				n := float64(b.N)
				b.ReportMetric(st.engMed, "ms/answer")
				b.ReportMetric(st.floorMed, "floor-ms")
				b.ReportMetric(st.pairMed, "x-floor")
				b.ReportMetric(st.engMed/st.floorMed, "x-medians")
				b.ReportMetric(st.engMean/st.floorMean, "x-means")
				b.ReportMetric(st.engP90, "p90-ms")
				b.ReportMetric(st.floorP90, "floor-p90-ms")
				b.ReportMetric(st.pairP90, "x-floor-p90")
				b.ReportMetric(st.engP90/st.floorP90, "x-p90s")
				b.ReportMetric(float64(queries)/n, "dns/answer")
				b.ReportMetric(float64(floorQueries)/n, "floor-dns")
				b.ReportMetric(float64(fetches)/n, "https/answer")
				b.ReportMetric(max(load, loadAverage()), "load1")
			})
		}
	}
}

// Issue 6 on the lab (real DNS server, real HTTPS policy host): 50 concurrent identical
// cold queries cost exactly one policy fetch and one TXT query, and all get the policy.
func TestColdPathCoalescesOnLab(t *testing.T) {
	c := newColdLab(t, 20*time.Millisecond)
	d, want := c.domain("sts")
	c.SetDelay(d, 100*time.Millisecond) // keep the first fetch in flight while the others arrive
	var wg sync.WaitGroup
	replies := make([]string, 50)
	for i := range replies {
		wg.Go(func() { replies[i] = c.eng.Resolve(context.Background(), plain, d).PostfixReply() })
	}
	wg.Wait()
	for i, r := range replies {
		if r != want {
			t.Fatalf("reply %d = %q, want %q", i, r, want)
		}
	}
	if n := c.Fetches(d); n != 1 {
		t.Errorf("policy fetches = %d, want exactly 1", n)
	}
	if n := c.DNS.QueryCount("_mta-sts."+d+".", dns.TypeTXT); n != 1 {
		t.Errorf("TXT queries = %d, want exactly 1", n)
	}
}
