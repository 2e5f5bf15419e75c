package policy

import (
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// stsState is what the hot store keeps of one domain's MTA-STS (an stsRecord, packed): the
// record id, the policy held and the timers of RFC 8461 §3.3 and §5.1, and when the domain
// was last asked for. A million domains are held at once, so the common case costs 80
// bytes, and the state is itself the hot store's value (no slot around it): the domain
// name is the map key's, equal policies are one heldPolicy (policyTable), times are unix
// nanoseconds, and whatever can be rebuilt from the other fields (the policy id, fetch
// time, standard TXT record, policy URL and "no record" reasons) or is rarely set
// (failures) lives in detail, nil unless needed. A state is immutable once published but
// for used and refreshing; every change publishes a new one (carrying used over), so
// readers never lock.
type stsState struct {
	Domain   string
	RecordID string      // "" when the domain has no usable record
	Policy   *heldPolicy // nil when none is held; fetched under PolicyID()
	detail   *stsDetail  // nil in the common case

	txtChecked int64        // unix nanoseconds (unixNano); 0 = never
	expires    int64        // unix nanoseconds: when the policy was fetched + max_age
	used       atomic.Int64 // unix nanoseconds of the last lookup
	// ttlReason is the TXT TTL in seconds (when detail.ttlSet is false) in its low 30 bits
	// and the TXT reason's code (reasonNone, …) in its top 2.
	ttlReason uint32
	// refreshing is set while a background refresh of the domain, handed over by a
	// lookup, is queued or under way (refreshInBackground).
	refreshing atomic.Bool
}

// ttlBits are the bits of stsState.ttlReason that hold the TTL.
const ttlBits = 30

// reason is the code of the TXT reason.
func (s *stsState) reason() uint8 { return uint8(s.ttlReason >> ttlBits) }

// once reports whether s is a state never published: its policy came with max_age 0 and
// applies to the lookups that fetched it, past its expiry (RFC 8461 §3.2).
func (s *stsState) once() bool { return s.detail != nil && s.detail.once }

// Codes of stsState.reason(): the reasons a lookup gives for most domains without a record
// are rebuilt from the domain name instead of being stored.
const (
	reasonNone     uint8 = iota // ""
	reasonNXDomain              // "no TXT records: _mta-sts.<domain>. does not exist"
	reasonNoTXT                 // "no TXT records"
	reasonDetail                // detail.txtReason
)

// stsDetail holds the fields of a state that are rarely set or not what the other fields
// imply. The *Set flags say a field is stored here rather than derived.
type stsDetail struct {
	policyID    string
	policyIDSet bool
	txt         []string
	txtSet      bool
	url         string
	urlSet      bool
	ttl         time.Duration // the TXT TTL when not whole seconds that fit ttlReason
	ttlSet      bool
	once        bool  // see stsState.once
	fetched     int64 // unix nanoseconds, when not expires - max_age (fetchedFrom)
	fetchedSet  bool

	txtReason   string
	failedID    string
	failedAt    int64 // unix nanoseconds
	failType    string
	failReason  string
	dnsFailedAt int64 // unix nanoseconds
	dnsError    string
}

// standardTXT is the TXT record of a domain whose record is exactly "v=STSv1; id=<id>;".
func standardTXT(id string) []string {
	return []string{mtasts.RecordVersion + "; id=" + id + ";"}
}

// isStandardTXT reports whether txt is what standardTXT(id) gives (nil for no id).
func isStandardTXT(txt []string, id string) bool {
	if id == "" {
		return len(txt) == 0
	}
	const pre, suf = mtasts.RecordVersion + "; id=", ";"
	return len(txt) == 1 && len(txt[0]) == len(pre)+len(id)+len(suf) &&
		txt[0][:len(pre)] == pre && txt[0][len(pre):len(pre)+len(id)] == id && txt[0][len(pre)+len(id):] == suf
}

// standardURL is where RFC 8461 §3.3 fetches domain's policy.
func standardURL(domain string) string {
	return "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
}

// nxReason is the reason mtasts.LookupRecord gives when _mta-sts.<domain> does not exist.
func nxReason(domain string) string {
	return "no TXT records: _mta-sts." + domain + ". does not exist"
}

// isNXReason reports whether reason is nxReason(domain), without building it.
func isNXReason(reason, domain string) bool {
	return isWrapped(reason, "no TXT records: _mta-sts.", domain, ". does not exist")
}

// isStandardURL reports whether url is standardURL(domain), without building it.
func isStandardURL(url, domain string) bool {
	return isWrapped(url, "https://mta-sts.", domain, "/.well-known/mta-sts.txt")
}

// isWrapped reports whether s is pre + mid + suf.
func isWrapped(s, pre, mid, suf string) bool {
	return len(s) == len(pre)+len(mid)+len(suf) && s[:len(pre)] == pre &&
		s[len(pre):len(pre)+len(mid)] == mid && s[len(pre)+len(mid):] == suf
}

// newSTSState packs r. Its policy is shared through t (nil: packed anew); prev, if not
// nil, is the domain's previous policy, kept (with its rendered reply) when r holds an
// equal one. std flags fields of r left empty because they are the standard ones
// (decodeSTSInto; stsDerived).
func newSTSState(t *policyTable, r *stsRecord, prev *heldPolicy, std uint64) *stsState {
	boundSTSRecord(r)
	s := &stsState{Domain: r.Domain, RecordID: r.RecordID,
		txtChecked: unixNano(r.TXTChecked), expires: unixNano(r.Expires)}
	switch {
	case r.Policy == nil:
	case t != nil:
		s.Policy = t.held(r.Policy, prev)
	case prev != nil && prev.equal(r.Policy, r.Policy.Lines == nil || linesCanonical(r.Policy)):
		s.Policy = prev
	default:
		s.Policy = packPolicy(r.Policy)
	}
	var d stsDetail
	need := false
	// A policy is held under the current record id; without one, the id is empty.
	if r.Policy != nil && r.PolicyID != r.RecordID || r.Policy == nil && r.PolicyID != "" {
		d.policyID, d.policyIDSet, need = r.PolicyID, true, true
	}
	if f := unixNano(r.Fetched); f != s.fetchedFrom() {
		d.fetched, d.fetchedSet, need = f, true, true
	}
	if r.TXTTTL >= 0 && r.TXTTTL%time.Second == 0 && r.TXTTTL/time.Second < 1<<ttlBits {
		s.ttlReason = uint32(r.TXTTTL / time.Second)
	} else {
		d.ttl, d.ttlSet, need = r.TXTTTL, true, true
	}
	var reason uint8
	switch {
	case std&stsReasonNX != 0 || isNXReason(r.TXTReason, r.Domain):
		reason = reasonNXDomain
	case r.TXTReason == "":
	case r.TXTReason == "no TXT records":
		reason = reasonNoTXT
	default:
		reason, d.txtReason, need = reasonDetail, r.TXTReason, true
	}
	s.ttlReason |= uint32(reason) << ttlBits
	if std&stsTXTStandard == 0 && !isStandardTXT(r.TXT, r.RecordID) {
		d.txt, d.txtSet, need = r.TXT, true, true
	}
	// The standard URL is implied by a policy; without one, the URL is implied empty.
	switch urlStd := std&stsURLStandard != 0; {
	case r.Policy != nil && !urlStd && !isStandardURL(r.URL, r.Domain):
		d.url, d.urlSet, need = r.URL, true, true
	case r.Policy == nil && urlStd:
		d.url, d.urlSet, need = standardURL(r.Domain), true, true
	case r.Policy == nil && r.URL != "":
		d.url, d.urlSet, need = r.URL, true, true
	}
	if r.FailedID != "" || !r.FailedAt.IsZero() || r.FailType != "" || r.FailReason != "" || !r.DNSFailedAt.IsZero() || r.DNSError != "" {
		d.failedID, d.failedAt, d.failType, d.failReason = r.FailedID, unixNano(r.FailedAt), r.FailType, r.FailReason
		if d.failedID == s.RecordID {
			d.failedID = s.RecordID
		}
		d.dnsFailedAt, d.dnsError = unixNano(r.DNSFailedAt), r.DNSError
		need = true
	}
	if need {
		s.detail = &d
	}
	return s
}

// record unpacks s into a record (allocating): for the refresh code to edit, the store to
// encode and explanations to read.
func (s *stsState) record() *stsRecord {
	r := &stsRecord{Domain: s.Domain, RecordID: s.RecordID, PolicyID: s.PolicyID(),
		TXTChecked: fromUnixNano(s.txtChecked), TXTTTL: s.ttl(),
		Fetched: s.Fetched(), Expires: fromUnixNano(s.expires)}
	if s.Policy != nil {
		r.Policy = s.Policy.policy()
		r.URL = standardURL(s.Domain)
	}
	if s.RecordID != "" {
		r.TXT = standardTXT(s.RecordID)
	}
	switch s.reason() {
	case reasonNXDomain:
		r.TXTReason = nxReason(s.Domain)
	case reasonNoTXT:
		r.TXTReason = "no TXT records"
	}
	if d := s.detail; d != nil {
		if d.txtSet {
			r.TXT = d.txt
		}
		if d.urlSet {
			r.URL = d.url
		}
		if s.reason() == reasonDetail {
			r.TXTReason = d.txtReason
		}
		r.FailedID, r.FailedAt, r.FailType, r.FailReason = d.failedID, fromUnixNano(d.failedAt), d.failType, d.failReason
		r.DNSFailedAt, r.DNSError = fromUnixNano(d.dnsFailedAt), d.dnsError
	}
	return r
}

// PolicyID is the record id the held policy was fetched under.
func (s *stsState) PolicyID() string {
	switch {
	case s.detail != nil && s.detail.policyIDSet:
		return s.detail.policyID
	case s.Policy != nil:
		return s.RecordID
	}
	return ""
}

// ttl is how long the TXT record is trusted after txtChecked.
func (s *stsState) ttl() time.Duration {
	if s.detail != nil && s.detail.ttlSet {
		return s.detail.ttl
	}
	return time.Duration(s.ttlReason&(1<<ttlBits-1)) * time.Second
}

// TXTChecked is when the TXT record was last read; zero if never.
func (s *stsState) TXTChecked() time.Time { return fromUnixNano(s.txtChecked) }

// Fetched is when the held policy was fetched.
func (s *stsState) Fetched() time.Time {
	if s.detail != nil && s.detail.fetchedSet {
		return fromUnixNano(s.detail.fetched)
	}
	return fromUnixNano(s.fetchedFrom())
}

// fetchedFrom is the fetch time the other fields imply, unix nanoseconds: a policy's
// expiry less its max_age (fetchSTS sets both so); 0 without a policy.
func (s *stsState) fetchedFrom() int64 {
	if s.Policy == nil || s.expires == 0 {
		return 0
	}
	return addNS(s.expires, -time.Duration(s.Policy.MaxAge)*time.Second)
}

// Expires is when the held policy's max_age runs out.
func (s *stsState) Expires() time.Time { return fromUnixNano(s.expires) }

// FailedID is the record id whose fetch last failed; "" if none.
func (s *stsState) FailedID() string {
	if s.detail == nil {
		return ""
	}
	return s.detail.failedID
}

// FailedAt is when the fetch under FailedID failed.
func (s *stsState) FailedAt() time.Time {
	if s.detail == nil {
		return time.Time{}
	}
	return fromUnixNano(s.detail.failedAt)
}

// DNSFailedAt is when the last TXT lookup failed (SERVFAIL, timeout); zero if it did not.
func (s *stsState) DNSFailedAt() time.Time {
	if s.detail == nil {
		return time.Time{}
	}
	return fromUnixNano(s.detail.dnsFailedAt)
}

// usable reports whether the held policy may be applied at now (RFC 8461 §5.1: until
// max_age runs out, whatever later refreshes say; never after, also when a refetch
// failed). A max_age 0 policy applies to the lookups that fetched it (once).
func (s *stsState) usable(now time.Time) bool { return s.usableAt(now.UnixNano()) }

// usableAt is usable at n, unix nanoseconds.
func (s *stsState) usableAt(n int64) bool {
	return s.Policy != nil && (n <= s.expires || s.once())
}
