package policy

import (
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// stsState is what the engine knows about one domain's MTA-STS: the TXT record it last saw,
// the policy it holds and the timers of RFC 8461 §3.3 and §5.1. A state is immutable once
// published; every change stores a new one, so readers never lock.
type stsState struct {
	Domain string `json:"domain"`

	// The TXT record (_mta-sts.<domain>, RFC 8461 §3.1) as last read.
	RecordID   string        `json:"record_id,omitempty"` // "" when the domain has no usable record
	TXT        []string      `json:"txt,omitempty"`
	TXTReason  string        `json:"txt_reason,omitempty"` // why there is no usable record
	TXTChecked time.Time     `json:"txt_checked"`
	TXTTTL     time.Duration `json:"txt_ttl"` // bounded; the record is re-read once older than this

	// The policy held: served until Expires even when later refreshes fail (RFC 8461 §5.1).
	Policy   *mtasts.Policy `json:"policy,omitempty"`
	PolicyID string         `json:"policy_id,omitempty"` // the record id it was fetched under
	URL      string         `json:"url,omitempty"`
	Fetched  time.Time      `json:"fetched,omitzero"`
	Expires  time.Time      `json:"expires,omitzero"` // Fetched + max_age

	// The last failed fetch: the id is not refetched before FailedAt + failure_retry.
	FailedID   string    `json:"failed_id,omitempty"`
	FailedAt   time.Time `json:"failed_at,omitzero"`
	FailType   string    `json:"fail_type,omitempty"` // RFC 8460 §4.3 result type
	FailReason string    `json:"fail_reason,omitempty"`

	// The last failed TXT lookup (SERVFAIL, timeout): not retried before DNSFailedAt + dnsRetry.
	DNSFailedAt time.Time `json:"dns_failed_at,omitzero"`
	DNSError    string    `json:"dns_error,omitempty"`
}

// usable reports whether the held policy may be applied at now (RFC 8461 §5.1: until
// max_age runs out, whatever later refreshes say).
func (s *stsState) usable(now time.Time) bool {
	return s.Policy != nil && !now.After(s.Expires)
}

// storeUntil is how long the state is worth keeping in the persistent store.
func (s *stsState) storeUntil() time.Time {
	t := s.TXTChecked.Add(s.TXTTTL)
	if s.Expires.After(t) {
		t = s.Expires
	}
	return t
}

// stsEntry is one domain's slot in the hot store: the current state, the answer rendered
// from it, and when it was last asked for (the refresher keeps recently used domains warm).
type stsEntry struct {
	state  atomic.Pointer[stsState]
	answer atomic.Pointer[stsAnswer] // of an earlier or the current state; see answerFor
	used   atomic.Int64              // unix nanoseconds of the last lookup
}

// stsAnswer is what a held policy answers (RFC 8461 §4 as Postfix takes it): the match
// list, the policy description and the reply without and with TLSRPT attributes, rendered
// once per published state and shared, read-only, by every decision it answers.
type stsAnswer struct {
	state  *stsState
	match  []string
	policy *STSPolicy
	reply  [2]string // [0] plain, [1] with TLSRPT attributes (Profile.TLSRPT)
	would  [2]*Would // the same replies for report-only decisions
}

// newSTSAnswer renders the answer of st, which holds a policy.
func newSTSAnswer(st *stsState) *stsAnswer {
	pol := st.Policy
	a := &stsAnswer{state: st, match: make([]string, len(pol.MX))}
	for i, mx := range pol.MX {
		a.match[i] = postfixMatch(mx)
	}
	a.policy = &STSPolicy{Domain: st.Domain, ID: st.PolicyID, Mode: string(pol.Mode), MaxAge: pol.MaxAge, MX: pol.MX, Lines: pol.Lines}
	for i, tlsrpt := range []bool{false, true} {
		d := Decision{Result: OK, Level: "secure", Match: a.match, Servername: "hostname", STS: a.policy, TLSRPT: tlsrpt}
		a.reply[i] = d.PostfixReply()
		a.would[i] = &Would{Reply: a.reply[i], Source: SourceMTASTS}
	}
	return a
}

// answerFor returns the answer of st, rendering it on the first lookup after st was
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
