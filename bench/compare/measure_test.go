package compare

import (
	"context"
	"testing"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/loadgen"
)

// bench is what every measured point needs: the lab and Unbound to count DNS queries,
// the processes that must stay up, the parameters.
type bench struct {
	lab      *lab.Lab
	resolver *resolver
	procs    []*proc
	p        params
}

// measure runs one point: keys cycled over conns connections, strict request→reply,
// against addr.
func (b *bench) measure(t *testing.T, workload string, keys []string, conns int, target, addr string) row {
	t.Helper()
	labBefore, resBefore := b.lab.DNS.Queries(), b.resolver.queries()
	res, err := loadgen.Run(context.Background(), loadgen.Config{Network: "tcp", Addr: addr,
		Map: mapName, Keys: keys, Conns: conns, Pipeline: 1, Duration: b.p.duration, Warmup: b.p.warmup})
	if err != nil {
		t.Fatalf("%s %s %d conns: %v", workload, target, conns, err)
	}
	r := row{workload: workload, conns: conns, target: target, rate: res.Rate, p50: res.P50, p99: res.P99,
		max: res.Max, errors: res.Errors, replies: res.Replies, labQ: b.lab.DNS.Queries() - labBefore,
		resolverQ: b.resolver.queries() - resBefore}
	if resBefore < 0 || r.resolverQ < 0 {
		r.resolverQ = -1
	}
	// The queries counted span warm-up and measured period; the replies only the
	// measured one. Scale to the measured period (the rate is steady).
	r.labQ, r.resolverQ = scaleQ(r.labQ, b.p), scaleQ(r.resolverQ, b.p)
	t.Logf("%s %-7s %s", workload, target, res)
	if res.Errors > 0 {
		t.Errorf("%s %s %d conns: %d errors, last: %v", workload, target, conns, res.Errors, res.LastError)
	}
	for _, p := range b.procs {
		p.alive(t)
	}
	return r
}

// scaleQ scales a query count over warm-up and measured period to the measured period.
func scaleQ(n int, p params) int {
	if n < 0 {
		return n
	}
	return int(float64(n) * p.duration.Seconds() / (p.duration + p.warmup).Seconds())
}
