package policy

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/internal/growstack"
)

// DANEEvaluator finds a destination's DANE facts (RFC 7672 §2): an MX domain on a port,
// or a host next-hop reached without an MX lookup. *dane.Evaluator implements it.
type DANEEvaluator interface {
	EvaluateDestination(ctx context.Context, dst dane.Destination) (*dane.Result, error)
}

// daneState is the cached DANE outcome of one destination; immutable once published. Its times
// are unix nanoseconds (unixNano), as in stsState: 72 bytes a domain, plus the hosts of the
// few outcomes that answer DANE.
type daneState struct {
	Domain  string // the destination's Nexthop.DANEKey: "example.com", "[host]:587", …
	Outcome dane.Outcome
	Reasons []string
	checked int64 // when the outcome was evaluated
	expires int64 // checked + the bounded minimum TTL behind the outcome
	// hosts are the MX hosts and usable TLSA records of an outcome that answers DANE, for
	// the HTTP API (DANEHosts); nil for every other outcome.
	hosts *DANEHosts
}

// Checked is when the outcome was evaluated.
func (s *daneState) Checked() time.Time { return fromUnixNano(s.checked) }

// Expires is when the outcome stops being valid.
func (s *daneState) Expires() time.Time { return fromUnixNano(s.expires) }

type daneEntry struct {
	state atomic.Pointer[daneState]
	used  atomic.Int64
}

// kindDANE names DANE outcomes in the persistent store.
const kindDANE = "dane"

// Bounds on caching DANE outcomes (conformance.md §3: the minimum TTL of the RRsets the
// answer rests on, bounded). Failures are cached briefly so a broken zone does not cost
// every lookup a timeout, yet recovers quickly.
const (
	daneTTLMin     = 60 * time.Second
	daneTTLMax     = 24 * time.Hour
	daneFailureTTL = 15 * time.Second
)

// daneCached returns domain's DANE outcome when the hot store holds it unexpired.
func (e *Engine) daneCached(domain string, now time.Time) (*daneState, bool) {
	en, ok := e.daneEntryFor(domain)
	if !ok {
		return nil, false
	}
	en.used.Store(now.UnixNano())
	st := en.state.Load()
	return st, now.Before(st.Expires())
}

// daneEntryFor returns domain's hot-store slot; on a miss it reads the persistent store
// first, as stsEntryFor does: an outcome evicted by churn, or not loaded yet while Load
// runs in the background after a restart, is still on disk, and answering from it keeps a
// DANE domain from being looked up again (or, with DNS down, from a weaker answer).
func (e *Engine) daneEntryFor(domain string) (*daneEntry, bool) {
	if en, ok := e.dane.Get(domain); ok {
		return en, true
	}
	if e.daneWhole() {
		return nil, false // nothing on disk that memory lacks: no read per lookup
	}
	return readBack(e, e.dane, domain, e.daneFromDisk)
}

// daneWhole reports whether the DANE hot store holds every outcome the persistent store
// does: a Load read the whole store into it, and nothing was evicted or refused since
// (every outcome learnt later goes to memory first). A miss then needs no disk read — with
// the DANE stage off, every lookup of a domain without DANE facts would otherwise read the
// store (daneKnown).
func (e *Engine) daneWhole() bool {
	at := e.daneWholeAt.Load()
	return at >= 0 && uint64(at) == e.dane.Dropped()
}

// daneFromDisk reads domain's DANE outcome from the persistent store into a new slot, which
// it does not put in the hot store. An unreadable entry is logged and ignored.
func (e *Engine) daneFromDisk(domain string) (*daneEntry, bool) {
	if e.opt.Backend == nil {
		return nil, false
	}
	ent, ok, err := e.opt.Backend.Get(context.Background(), kindDANE, domain)
	if err != nil || !ok {
		return nil, false
	}
	st, err := decodeState(ent, decodeDANE, func(s *daneState) string { return s.Domain })
	if err != nil {
		e.opt.Logger.Warn("skipping unreadable cache entry", "kind", kindDANE, "domain", domain, "err", err)
		return nil, false
	}
	st.Domain = domain
	en := &daneEntry{}
	en.state.Store(st)
	return en, true
}

// refreshDANE evaluates nh's destination once for all concurrent callers (bounded like an
// MTA-STS refresh); a caller whose ctx ends first gets the outcome known so far, or nil.
func (e *Engine) refreshDANE(ctx context.Context, nh Nexthop, ev DANEEvaluator) *daneState {
	return e.awaitDANE(ctx, nh.DANEKey, e.startDANE(ctx, nh, ev))
}

// startDANE starts (or joins) the shared evaluation of nh's destination and returns where
// its outcome will arrive; awaitDANE waits for it. A cold answer starts it, then does the
// MTA-STS work on its own goroutine, then waits: the two chains run in parallel with no
// goroutine of the answer's own in between.
func (e *Engine) startDANE(ctx context.Context, nh Nexthop, ev DANEEvaluator) <-chan singleflight.Result {
	return e.flight.DoChan("dane:"+nh.DANEKey, func() (any, error) {
		growstack.Grow()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timers.Load().FetchTimeout+refreshSlack)
		defer cancel()
		return e.doRefreshDANE(wctx, nh, ev), nil
	})
}

// awaitDANE waits for the evaluation startDANE started for key; a caller whose ctx ends
// first gets the outcome known so far, or nil.
func (e *Engine) awaitDANE(ctx context.Context, key string, ch <-chan singleflight.Result) *daneState {
	select {
	case r := <-ch:
		return r.Val.(*daneState)
	case <-ctx.Done():
		if en, ok := e.dane.Get(key); ok {
			return en.state.Load()
		}
		return nil
	}
}

func (e *Engine) doRefreshDANE(ctx context.Context, nh Nexthop, ev DANEEvaluator) *daneState {
	now := e.now()
	st := &daneState{Domain: nh.DANEKey, checked: unixNano(now)}
	res, err := ev.EvaluateDestination(ctx, dane.Destination{Name: nh.Domain, Port: int(nh.Port), Host: nh.Host})
	if err != nil {
		st.Outcome = dane.TempFail
		st.Reasons = []string{"DANE evaluation failed: " + err.Error()}
		st.expires = unixNano(now.Add(daneFailureTTL))
	} else {
		st.Outcome, st.Reasons, st.hosts = res.Outcome, res.Reasons, daneHostsOf(res)
		ttl := bound(res.TTL, daneTTLMin, daneTTLMax)
		if res.Outcome == dane.TempFail || res.Outcome == dane.LookupFailed {
			ttl = daneFailureTTL
		}
		st.expires = unixNano(now.Add(ttl))
	}
	e.publishDANE(st)
	return st
}

func (e *Engine) publishDANE(st *daneState) {
	st.Reasons = boundReasons(st.Reasons)
	// A new slot, not the old one's state replaced: the hot store charges what it holds
	// when it is stored (cache.Memory), so a stored slot does not change.
	en := &daneEntry{}
	if old, ok := e.dane.Get(st.Domain); ok {
		en.used.Store(old.used.Load())
	} else {
		en.used.Store(e.now().UnixNano())
	}
	en.state.Store(st)
	e.dane.Set(st.Domain, en)
	if e.opt.Backend == nil {
		return
	}
	e.opt.Backend.Put(cache.Entry{Kind: kindDANE, Key: st.Domain, Value: encodeDANE(st), Expires: st.storeUntil(), Updated: e.now()})
}
