package collector

import (
	"encoding/json"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// aggregator adds results to the batch being filled; it is owned by one goroutine.
// Policy and detail JSON are encoded once per distinct value seen in the batch.
type aggregator struct {
	batch *store.Batch
}

// dayOf is the UTC day of t as the store keys it.
func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// policyKey is the canonical JSON of a policy (encoding/json writes struct fields in
// order and omits empty optional members, so identical policies give identical keys).
func policyKey(p *tlsrpt.Policy) string {
	b, _ := json.Marshal(p) // a struct of strings cannot fail to encode
	return string(b)
}

// detailKey is the canonical JSON of a failure detail, its count zeroed.
func detailKey(d tlsrpt.FailureDetail) string {
	d.FailedSessionCount = 0
	b, _ := json.Marshal(d)
	return string(b)
}

// add counts one delivery request's results on day (RFC 8460 §4.4: a session counts as
// successful or failed under each policy it applied; each failure detail once).
func (a *aggregator) add(day string, r *Result) {
	for i := range r.Policies {
		p := &r.Policies[i]
		g := store.Group{Day: day, Domain: r.Domain, Record: r.Record, Policy: policyKey(&p.Policy)}
		c := a.batch.Sessions[g]
		if c == nil {
			c = &store.Counts{}
			a.batch.Sessions[g] = c
		}
		if !p.Failed {
			c.OK++
			continue
		}
		c.Failed++
		for _, d := range p.Details {
			a.batch.Failures[store.DetailKey{Group: g, Detail: detailKey(d)}] += d.FailedSessionCount
		}
	}
}
