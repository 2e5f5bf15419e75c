package policy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// coldArrivals records when each query type first reached the lab's DNS server during
// one answer, relative to the answer's start.
type coldArrivals struct {
	mu    sync.Mutex
	start time.Time
	at    map[uint16]time.Duration
}

func (a *coldArrivals) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.start = time.Now()
	clear(a.at)
}

func (a *coldArrivals) saw(qtype uint16) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.at[qtype]; !ok {
		a.at[qtype] = now.Sub(a.start)
	}
}

// steps returns the DANE chain's steps of one answer that ended at end: start → MX
// query, MX → A, A → TLSA, TLSA → answer, or false when a query is missing or came out
// of order.
func (a *coldArrivals) steps(end time.Duration) ([4]time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mx, ok1 := a.at[dns.TypeMX]
	aa, ok2 := a.at[dns.TypeA]
	tlsa, ok3 := a.at[dns.TypeTLSA]
	if !ok1 || !ok2 || !ok3 || aa < mx || tlsa < aa || end < tlsa {
		return [4]time.Duration{}, false
	}
	return [4]time.Duration{mx, aa - mx, tlsa - aa, end - tlsa}, true
}

// BenchmarkColdPathSteps splits a cold DANE-family answer (MX → A → TLSA ‖ TXT, instant
// DNS) into the steps of its critical chain, as seen by the lab's DNS server, for the
// engine and for the floor (coldFloor) on never-seen domains, alternately:
//
//	{eng,floor}-mx-us    from the start of the answer to the MX query's arrival
//	{eng,floor}-a-us     from the MX query's arrival to the A query's
//	{eng,floor}-tlsa-us  from the A query's arrival to the TLSA query's
//	{eng,floor}-end-us   from the TLSA query's arrival to the answer
//
// each the median over the iterations after the warm-up, in microseconds. The
// difference between engine and floor in each step is what the engine adds there: the
// work before its first query, the handling of a reply until the next query leaves, and
// the decision after the last one. It is the profile behind BENCHMARKS.md's cold-path
// figures; root is needed (the lab's policy host listens on :443):
//
//	go test -run '^$' -bench ColdPathSteps -benchtime 2000x ./policy
func BenchmarkColdPathSteps(b *testing.B) {
	c := newColdLab(b, 0)
	floor := c.newFloor()
	arr := &coldArrivals{at: map[uint16]time.Duration{}}
	c.DNS.SetHandler(func(_ dns.ResponseWriter, r *dns.Msg) bool {
		if len(r.Question) == 1 {
			arr.saw(r.Question[0].Qtype)
		}
		return false
	})
	ctx := context.Background()
	for _, family := range []string{"dane", "neither"} {
		eng, kind := c.engineFor(family)
		b.Run(family, func(b *testing.B) {
			var engSteps, floorSteps [4][]float64
			record := func(into *[4][]float64, run func()) {
				arr.reset()
				t0 := time.Now()
				run()
				if st, ok := arr.steps(time.Since(t0)); ok {
					for i, d := range st {
						into[i] = append(into[i], float64(d)/float64(time.Microsecond))
					}
				}
			}
			for i := 0; b.Loop(); i++ {
				fd, _ := c.domain(kind)
				d, _ := c.domain(kind)
				runFloor := func() { record(&floorSteps, func() { floor.run(b, family, fd) }) }
				runEngine := func() { record(&engSteps, func() { eng.Resolve(ctx, plain, d) }) }
				if i%2 == 0 {
					runFloor()
					runEngine()
				} else {
					runEngine()
					runFloor()
				}
			}
			names := [4]string{"mx", "a", "tlsa", "end"}
			for i, n := range names {
				w := coldWarmup(len(engSteps[i]))
				b.ReportMetric(quantile(engSteps[i][w:], 0.5), "eng-"+n+"-us")
				w = coldWarmup(len(floorSteps[i]))
				b.ReportMetric(quantile(floorSteps[i][w:], 0.5), "floor-"+n+"-us")
			}
		})
	}
}
