package policy

import (
	"slices"
	"sync/atomic"
)

// stsEntry is one domain's slot in the hot store: the current state, the answer rendered
// from it, and when it was last asked for (the refresher keeps recently used domains warm).
type stsEntry struct {
	state  atomic.Pointer[stsState]
	answer atomic.Pointer[stsAnswer] // of an earlier or the current state; see answerFor
	used   atomic.Int64              // unix nanoseconds of the last lookup
	// refreshing is set while a background refresh of the domain, handed over by a
	// lookup, is queued or under way (refreshInBackground).
	refreshing atomic.Bool
}

// stsAnswer is what a held policy answers one domain (RFC 8461 §4 as Postfix takes it),
// shared, read-only, by every decision it answers: the policy description, built when the
// state is first used, and the reply with TLSRPT attributes, rendered the first time a
// profile asks for it. The plain reply depends only on the policy, so it is the
// heldPolicy's, shared with every domain that publishes the same policy.
type stsAnswer struct {
	state  *stsState
	policy STSPolicy
	tlsrpt atomic.Pointer[renderedReply]
}

// renderedReply is a rendered Postfix reply and the same reply for report-only decisions.
type renderedReply struct {
	reply string
	would Would
}

// plainAnswer is a policy's answer without TLSRPT attributes: the match list and reply.
type plainAnswer struct {
	match []string
	renderedReply
}

// plainAnswer returns the policy's plain answer, rendering it on first use.
func (p *heldPolicy) plainAnswer() *plainAnswer {
	if a := p.plain.Load(); a != nil {
		return a
	}
	a := &plainAnswer{match: p.MX} // the mx patterns are the match list unless one is a wildcard
	if slices.ContainsFunc(p.MX, func(mx string) bool { return postfixMatch(mx) != mx }) {
		a.match = make([]string, len(p.MX))
		for i, mx := range p.MX {
			a.match[i] = postfixMatch(mx)
		}
	}
	d := Decision{Result: OK, Level: "secure", Match: a.match, Servername: "hostname"}
	a.reply = d.PostfixReply()
	a.would = Would{Reply: a.reply, Source: SourceMTASTS}
	if p.plain.CompareAndSwap(nil, a) {
		return a
	}
	return p.plain.Load()
}

// newSTSAnswer describes the policy st holds, for its answers.
func newSTSAnswer(st *stsState) *stsAnswer {
	pol := st.Policy
	return &stsAnswer{state: st, policy: STSPolicy{Domain: st.Domain, ID: st.PolicyID(), Mode: string(pol.Mode), MaxAge: pol.MaxAge, MX: pol.MX, Lines: pol.Lines, canonical: pol.Lines == nil}}
}

// tlsrptReply returns the reply with TLSRPT attributes, rendering it on first use.
func (a *stsAnswer) tlsrptReply() *renderedReply {
	if r := a.tlsrpt.Load(); r != nil {
		return r
	}
	d := Decision{Result: OK, Level: "secure", Match: a.state.Policy.plainAnswer().match, Servername: "hostname", STS: &a.policy, TLSRPT: true}
	r := &renderedReply{reply: d.PostfixReply()}
	r.would = Would{Reply: r.reply, Source: SourceMTASTS}
	if a.tlsrpt.CompareAndSwap(nil, r) {
		return r
	}
	return a.tlsrpt.Load()
}

// answerFor returns the answer of st, building it on the first lookup after st was
// published (by a refresh, or by Load). A state that is no longer current is answered
// without being remembered.
func (en *stsEntry) answerFor(st *stsState) *stsAnswer {
	if a := en.answer.Load(); a != nil && a.state == st {
		return a
	}
	a := newSTSAnswer(st)
	if en.state.Load() == st {
		en.answer.Store(a)
	}
	return a
}
