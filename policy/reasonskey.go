package policy

import "slices"

// ReasonsKey is everything the text of Decision.Reasons is rendered from, in a form that
// compares with ==: two decisions whose keys are equal have the same reasons, so a front
// end that answers the same cached decision over and over (the HTTP API) can keep the
// rendered text and render again only when the key changes. It holds what the
// explanation holds — pointers to states and rules that are replaced, never changed,
// once published — plus the engine's timers in force and the decision's fields that
// appear in the text.
type ReasonsKey struct {
	why    explanation
	timers *STSTimers
	key    string
	domain string
	prof   string
	msg    string
	would  Would
	hasW   bool
}

// ReasonsKey returns the key of d's reasons. ok is false when they cannot be keyed so —
// reasons given as text (SetReasons, decoded JSON) or a key that is not looked up (its
// error is not known to be comparable) — and the caller renders them each time.
//
// Take the key before rendering: a configuration reload that replaces the timers in
// between then gives a key that no longer matches, never text older than its key.
func (d *Decision) ReasonsKey() (k ReasonsKey, ok bool) {
	if d.text != nil || d.why.input != nil {
		return ReasonsKey{}, false
	}
	k = ReasonsKey{why: d.why, key: d.Key, domain: d.Domain, prof: d.Profile, msg: d.Message}
	if d.why.eng != nil {
		k.timers = d.why.eng.timers.Load()
	}
	if d.Would != nil {
		k.would, k.hasW = *d.Would, true
	}
	return k, true
}

// Equal reports whether p and q describe the same policy, text included (a policy whose
// Lines stand for the canonical text equals one that spells the same text out only if
// both do the same), without rendering anything: for a front end that keeps what it
// rendered from a policy.
func (p *STSPolicy) Equal(q *STSPolicy) bool {
	return p.Domain == q.Domain && p.ID == q.ID && p.Mode == q.Mode && p.MaxAge == q.MaxAge &&
		p.canonical == q.canonical && slices.Equal(p.MX, q.MX) && slices.Equal(p.Lines, q.Lines)
}
