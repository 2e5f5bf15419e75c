package policy

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/mailtls/mailtls/internal/growstack"
	"github.com/mailtls/mailtls/mtasts"
)

// stsCached returns domain's MTA-STS state when the hot store can answer with it at now
// (no disk, no network), and records the use for the background refresher. When the
// state answers but is due for a TXT re-read or a refetch, that work is handed to the
// background (RFC 8461 §5.1 allows it while the policy is unexpired), coalesced per
// domain: the answer never waits and the hand-over allocates nothing.
func (e *Engine) stsCached(domain string, now time.Time) (*stsState, bool) {
	st, ok := e.stsEntryFor(domain)
	if !ok {
		return nil, false
	}
	st.used.Store(now.UnixNano())
	answer, due := e.stsFresh(st, now)
	if answer && due {
		e.refreshInBackground(domain, st)
	}
	return st, answer
}

// stsFresh reports whether st answers a lookup at now without waiting on the network, and
// whether background work is due for it (a TXT re-read or a refetch). It compares unix
// nanoseconds, as the state stores them: it runs on every cached lookup.
func (e *Engine) stsFresh(st *stsState, now time.Time) (answer, due bool) {
	n := now.UnixNano()
	d := st.detail
	if d != nil && d.dnsFailedAt != 0 && n < addNS(d.dnsFailedAt, e.opt.DNSRetry) {
		return true, false // the TXT lookup failed moments ago: do not make every lookup wait for it
	}
	// RFC 8461 §5.1: once the TXT check is older than the record's TTL, read it again.
	txtStale := n > addNS(st.txtChecked, st.ttl())
	failedRecently := func() bool {
		return d != nil && d.failedID == st.RecordID && n < addNS(d.failedAt, e.timers.Load().FailureRetry)
	}
	if st.usableAt(n) {
		// An unexpired policy answers; re-reading the record, fetching a new id or
		// refetching before expiry happens behind it (conformance.md §4).
		if txtStale {
			return true, true
		}
		newID := st.RecordID != "" && st.PolicyID() != st.RecordID
		return true, (newID || st.nearExpiryAt(n)) && !failedRecently()
	}
	switch {
	case txtStale:
		return false, false
	case st.RecordID == "":
		return true, false // negative cache: no MTA-STS record, for the answer's TTL
	case failedRecently():
		return true, false // this id failed recently: retry at most every failure_retry
	}
	return false, false
}

// addNS is t (unix nanoseconds) plus d, saturating instead of overflowing.
func addNS(t int64, d time.Duration) int64 {
	if s := t + int64(d); (d > 0) == (s > t) || d == 0 {
		return s
	}
	if d > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// nearExpiryAt reports whether st's policy has less than a quarter of its max_age left at
// n (unix nanoseconds): it is refetched then, even under an unchanged id, so that a
// domain in use does not expire (RFC 8461 §5.1: "senders SHOULD proactively refresh").
func (st *stsState) nearExpiryAt(n int64) bool {
	return st.Policy != nil && n >= addNS(st.expires, -time.Duration(st.Policy.MaxAge)*time.Second/4)
}

// nearExpiry reports whether policy p, expiring at expires, has less than a quarter of its
// max_age left at now.
func nearExpiry(p *mtasts.Policy, expires, now time.Time) bool {
	left := time.Duration(p.MaxAge) * time.Second / 4
	return !now.Before(expires.Add(-left))
}

// refreshSTS brings domain's state up to date. Concurrent calls for one domain share one
// DNS and HTTPS sequence (conformance.md §6: N cold queries, one fetch). The shared work
// is bounded by FetchTimeout and does not end when one waiting caller gives up; a caller
// whose ctx ends first gets the state known so far.
func (e *Engine) refreshSTS(ctx context.Context, domain string, force bool) *stsState {
	ch := e.flight.DoChan(domain, func() (any, error) {
		growstack.Grow()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timers.Load().FetchTimeout+refreshSlack)
		defer cancel()
		return e.doRefreshSTS(wctx, domain, force), nil
	})
	select {
	case r := <-ch:
		return r.Val.(*stsState)
	case <-ctx.Done():
		if st, ok := e.sts.Get(domain); ok {
			return st
		}
		return nil
	}
}

// doRefreshSTS reads the TXT record and fetches the policy when RFC 8461 §3.3 and §5.1 call
// for it. A failed lookup or fetch never discards a policy that has not expired.
func (e *Engine) doRefreshSTS(ctx context.Context, domain string, force bool) *stsState {
	st := &stsRecord{Domain: domain}
	var prev *heldPolicy
	if old, ok := e.stsEntryFor(domain); ok {
		st, prev = old.record(), old.Policy
	}
	now := e.now()
	rl, err := mtasts.LookupRecord(ctx, e.opt.Resolver, domain)
	if err != nil {
		st.DNSFailedAt, st.DNSError = now, err.Error()
		return e.publish(st, prev)
	}
	st.DNSFailedAt, st.DNSError = time.Time{}, ""
	st.TXT, st.TXTChecked = rl.TXT, now
	if rl.Record == nil {
		// No usable record: cache negatively for the answer's TTL, bounded. A policy
		// already held stays in force until it expires (RFC 8461 §8.3: a policy is
		// withdrawn by publishing mode none, not by removing the record).
		st.RecordID, st.TXTReason = "", rl.Reason
		st.TXTTTL = bound(rl.TTL, e.opt.NegativeTTLMin, e.opt.NegativeTTLMax)
		return e.publish(st, prev)
	}
	st.RecordID, st.TXTReason = rl.Record.ID, ""
	st.TXTTTL = bound(rl.TTL, e.timers.Load().TXTTTLMin, txtTTLMax)

	recentFailure := st.FailedID == st.RecordID && now.Before(st.FailedAt.Add(e.timers.Load().FailureRetry))
	held := st.PolicyID == st.RecordID && st.Policy != nil && !now.After(st.Expires)
	switch {
	case !force && held && !nearExpiry(st.Policy, st.Expires, now):
		// Same id: the held policy stands (RFC 8461 §3.3: a changed body under an
		// unchanged id is not refetched).
	case recentFailure:
	default:
		if e.fetchSTS(ctx, st) && st.Policy.MaxAge == 0 {
			return e.publishOnce(st, prev)
		}
	}
	return e.publish(st, prev)
}

// publishOnce handles a policy fetched with max_age 0 (RFC 8461 §3.2: a valid policy):
// it applies to the lookups that fetched it, which get it back, and is not kept: the
// state published holds no policy, so the next lookup fetches again.
func (e *Engine) publishOnce(st *stsRecord, prev *heldPolicy) *stsState {
	kept := *st
	kept.Policy, kept.PolicyID, kept.URL, kept.Fetched, kept.Expires = nil, "", "", time.Time{}, time.Time{}
	e.publish(&kept, prev)
	once := newSTSState(e.policies, st, prev, 0)
	if once.detail == nil {
		once.detail = &stsDetail{}
	}
	once.detail.once = true
	return once
}

// fetchSTS fetches the policy for st's current record id, records the outcome in st and
// reports whether it succeeded.
func (e *Engine) fetchSTS(ctx context.Context, st *stsRecord) bool {
	res, err := e.opt.Fetcher.Fetch(ctx, st.Domain)
	now := e.now()
	if err != nil {
		st.FailedID, st.FailedAt, st.FailReason = st.RecordID, now, err.Error()
		st.FailType = string(mtasts.ResultFetchError)
		var fe *mtasts.FetchError
		if errors.As(err, &fe) {
			st.FailType = string(fe.Type)
		}
		e.opt.Logger.Info("MTA-STS policy fetch failed", "domain", st.Domain, "id", st.RecordID, "type", st.FailType, "err", err)
		if e.opt.OnFetch != nil {
			e.opt.OnFetch(st.FailType)
		}
		if e.opt.STSObserver != nil {
			e.opt.STSObserver.STSFetchFailed(st.Domain, st.FailType, st.FailReason)
		}
		return false
	}
	if e.opt.OnFetch != nil {
		e.opt.OnFetch("success")
	}
	st.Policy, st.PolicyID, st.URL = ownPolicy(res.Policy), st.RecordID, res.URL
	st.Fetched = now
	st.Expires = now.Add(time.Duration(res.Policy.MaxAge) * time.Second)
	st.FailedID, st.FailedAt, st.FailType, st.FailReason = "", time.Time{}, "", ""
	return true
}

// applySTS turns the MTA-STS facts into the answer (conformance.md §4) and reports whether
// MTA-STS decided it; otherwise the next stage answers.
func (e *Engine) applySTS(d *Decision, p *Profile, st *stsState) bool {
	now := e.now()
	d.why.sts, d.why.stsUsable, d.why.stsStep = st, st.usable(now), stsUnusable
	if !d.why.stsUsable {
		return false
	}
	pol := st.Policy
	step := stsEnforce
	switch {
	case pol.mode == modeEnforce:
	case pol.mode == modeTesting && p.TestingAsEnforce:
		step = stsTestingForce
	case pol.mode == modeTesting:
		d.why.stsStep = stsTesting
		return false
	default:
		d.why.stsStep = stsOtherMode
		return false
	}
	d.why.stsStep = step
	d.Result, d.Level, d.Source = OK, "secure", SourceMTASTS
	d.Servername = "hostname"
	d.Match, d.STS = pol.match(), describeSTS(st)
	if d.TLSRPT {
		w := e.tlsrptReply(st, &d.STS)
		d.reply, d.would = w.Reply, w
	} else {
		d.reply = pol.reply
		if p.ReportOnly { // kept for report-only profiles only, made on their first use
			d.would = pol.wouldReply()
		}
	}
	d.Expires = st.Expires()
	return true
}

// postfixMatch writes an MTA-STS mx pattern in Postfix match= syntax: "*.example.com"
// becomes ".example.com". (Postfix's ".example.com" also matches deeper subdomains, which
// is wider than RFC 8461 §4.1's single label; Postfix offers nothing narrower.)
func postfixMatch(pattern string) string {
	if strings.HasPrefix(pattern, "*.") {
		return pattern[1:]
	}
	return pattern
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
