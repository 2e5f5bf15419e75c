package policy

import "strings"

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
	if cur, ok := e.sts.Get(st.Domain); ok && cur == st {
		e.tlsrpt.Set(st.Domain, r)
	}
	return &r.would
}
