package policy

import (
	"strings"
	"sync/atomic"
)

// stsEntry is one domain's slot in the hot store: the current state, and when it was last
// asked for (the refresher keeps recently used domains warm).
type stsEntry struct {
	state atomic.Pointer[stsState]
	used  atomic.Int64 // unix nanoseconds of the last lookup
	// refreshing is set while a background refresh of the domain, handed over by a
	// lookup, is queued or under way (refreshInBackground).
	refreshing atomic.Bool
}

// tlsrptReply is a domain's reply with TLSRPT attributes (Postfix ≥ 3.10, TLSRPT_README),
// rendered for the state it was rendered from. Only profiles with TLSRPT ask for it, and it
// names the domain, so it is not kept with the state: the engine's tlsrpt store keeps the
// replies asked for within its share of the byte budget, and one evicted is rendered again.
type tlsrptReply struct {
	state *stsState
	would Would // Reply is the reply, Source mta-sts: what a report-only answer records
}

// describeSTS describes the policy st holds (Decision.STS), without allocating: every
// field is a string or slice st holds already.
func describeSTS(st *stsState) STSPolicy {
	pol := st.Policy
	lines := pol.Lines()
	return STSPolicy{Domain: st.Domain, ID: st.PolicyID(), Mode: string(pol.Mode()), MaxAge: pol.MaxAge, MX: pol.MX, Lines: lines, canonical: lines == nil}
}

// tlsrptReply returns st's reply with TLSRPT attributes: the one kept for st, or rendered
// and, when st is its domain's current state, kept (a copy of exactly its length: the
// builder's buffer has spare capacity).
func (e *Engine) tlsrptReply(st *stsState, p *STSPolicy) *Would {
	if r, ok := e.tlsrpt.Get(st.Domain); ok && r.state == st {
		return &r.would
	}
	d := Decision{Result: OK, Level: "secure", Match: st.Policy.match(), Servername: "hostname", STS: *p, TLSRPT: true}
	r := &tlsrptReply{state: st, would: Would{Reply: strings.Clone(d.PostfixReply()), Source: SourceMTASTS}}
	if en, ok := e.sts.Get(st.Domain); ok && en.state.Load() == st {
		e.tlsrpt.Set(st.Domain, r)
	}
	return &r.would
}
