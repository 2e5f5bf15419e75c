package policy

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// stsCached returns domain's MTA-STS state when the hot store can answer with it at now
// (no disk, no network), and records the use for the background refresher.
func (e *Engine) stsCached(domain string, now time.Time) (*stsState, bool) {
	en, ok := e.stsEntryFor(domain)
	if !ok {
		return nil, false
	}
	en.used.Store(now.UnixNano())
	st := en.state.Load()
	return st, e.stsFresh(st, now)
}

// stsFresh reports whether st answers a lookup at now without touching the network.
func (e *Engine) stsFresh(st *stsState, now time.Time) bool {
	if st.detail != nil && st.detail.dnsFailedAt != 0 && now.Before(st.DNSFailedAt().Add(e.opt.DNSRetry)) {
		return true // the TXT lookup failed moments ago: do not make every lookup wait for it
	}
	if now.After(st.TXTChecked().Add(st.ttl())) {
		return false // RFC 8461 §5.1: check the TXT record for a new id
	}
	switch {
	case st.RecordID == "":
		return true // negative cache: no MTA-STS record, for the answer's TTL
	case st.PolicyID() == st.RecordID && st.usable(now):
		return true
	case st.detail != nil && st.FailedID() == st.RecordID && now.Before(st.FailedAt().Add(e.opt.FailureRetry)):
		return true // this id failed recently: retry at most every failure_retry
	}
	return false
}

// refreshSTS brings domain's state up to date. Concurrent calls for one domain share one
// DNS and HTTPS sequence (conformance.md §6: N cold queries, one fetch). The shared work
// is bounded by FetchTimeout and does not end when one waiting caller gives up; a caller
// whose ctx ends first gets the state known so far.
func (e *Engine) refreshSTS(ctx context.Context, domain string, force bool) *stsState {
	ch := e.flight.DoChan(domain, func() (any, error) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opt.FetchTimeout+refreshSlack)
		defer cancel()
		return e.doRefreshSTS(wctx, domain, force), nil
	})
	select {
	case r := <-ch:
		return r.Val.(*stsState)
	case <-ctx.Done():
		if en, ok := e.sts.Get(domain); ok {
			return en.state.Load()
		}
		return nil
	}
}

// doRefreshSTS reads the TXT record and fetches the policy when RFC 8461 §3.3 and §5.1 call
// for it. A failed lookup or fetch never discards a policy that has not expired.
func (e *Engine) doRefreshSTS(ctx context.Context, domain string, force bool) *stsState {
	st := &stsRecord{Domain: domain}
	var prev *heldPolicy
	if en, ok := e.stsEntryFor(domain); ok {
		old := en.state.Load()
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
	st.TXTTTL = bound(rl.TTL, txtTTLMin, txtTTLMax)

	recentFailure := st.FailedID == st.RecordID && now.Before(st.FailedAt.Add(e.opt.FailureRetry))
	switch {
	case !force && st.PolicyID == st.RecordID && st.Policy != nil && !now.After(st.Expires):
		// Same id: the held policy stands (RFC 8461 §3.3: a changed body under an
		// unchanged id is not refetched).
	case recentFailure:
	default:
		e.fetchSTS(ctx, st)
	}
	return e.publish(st, prev)
}

// fetchSTS fetches the policy for st's current record id and records the outcome in st.
func (e *Engine) fetchSTS(ctx context.Context, st *stsRecord) {
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
		return
	}
	if e.opt.OnFetch != nil {
		e.opt.OnFetch("success")
	}
	st.Policy, st.PolicyID, st.URL = res.Policy, st.RecordID, res.URL
	st.Fetched = now
	st.Expires = now.Add(time.Duration(res.Policy.MaxAge) * time.Second)
	st.FailedID, st.FailedAt, st.FailType, st.FailReason = "", time.Time{}, "", ""
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
	case pol.Mode == mtasts.ModeEnforce:
	case pol.Mode == mtasts.ModeTesting && p.TestingAsEnforce:
		step = stsTestingForce
	case pol.Mode == mtasts.ModeTesting:
		d.why.stsStep = stsTesting
		return false
	default:
		d.why.stsStep = stsOtherMode
		return false
	}
	d.why.stsStep = step
	a := e.stsAnswer(st)
	d.Result, d.Level, d.Source = OK, "secure", SourceMTASTS
	d.Servername = "hostname"
	r := &st.Policy.plainAnswer().renderedReply
	if d.TLSRPT {
		r = a.tlsrptReply()
	}
	d.Match, d.STS, d.reply, d.would = st.Policy.plainAnswer().match, &a.policy, r.reply, &r.would
	d.Expires = st.Expires()
	return true
}

// stsAnswer returns the rendered answer of st, from its hot-store slot when it has one.
func (e *Engine) stsAnswer(st *stsState) *stsAnswer {
	if en, ok := e.sts.Get(st.Domain); ok {
		return en.answerFor(st)
	}
	return newSTSAnswer(st)
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
