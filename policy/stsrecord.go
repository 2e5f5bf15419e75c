package policy

import (
	"math"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// stsRecord is one domain's MTA-STS state spelled out field by field: the form the refresh
// code edits and the persistent store holds. The hot store keeps the compact stsState
// instead (newSTSState packs a record, stsState.record unpacks it again). A policy whose
// Lines are nil has the canonical text (canonicalLines), as in heldPolicy.
type stsRecord struct {
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

// storeUntil is how long the state is worth keeping in the persistent store.
func (r *stsRecord) storeUntil() time.Time {
	t := r.TXTChecked.Add(r.TXTTTL)
	if r.Expires.After(t) {
		t = r.Expires
	}
	return t
}

// unixNano is t in unix nanoseconds, 0 for the zero time. Times beyond what int64
// nanoseconds hold (before 1678, after 2262) are clamped to that range, and the unix epoch
// itself, whose 0 would read back as the zero time, becomes 1 ns later.
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(time.Unix(0, math.MinInt64+1)):
		return math.MinInt64 + 1
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	if ns := t.UnixNano(); ns != 0 {
		return ns
	}
	return 1
}

// fromUnixNano inverts unixNano, in UTC (as the persistent store has always given times
// back): 0 is the zero time.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
