package policy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/mtasts"
)

// STSFetcher fetches a domain's MTA-STS policy (RFC 8461 §3.3). *mtasts.Fetcher implements it.
type STSFetcher interface {
	Fetch(ctx context.Context, domain string) (*mtasts.FetchResult, error)
}

// Options are the engine's dependencies and timers. Resolver and Fetcher are required.
type Options struct {
	Resolver dnsclient.Resolver
	Fetcher  STSFetcher
	DANE     DANEEvaluator // nil disables the DANE stage (e.g. the resolver does not validate)
	// DANEOffReason says why DANE is nil, for explanations ("resolver validation check: …").
	DANEOffReason string
	Backend       cache.Backend // persistent store; nil keeps everything in memory only
	// Overrides are the operator's rules (stage 1); nil for none. SetOverrides replaces them.
	Overrides *Overrides
	// ASN are the operator's ASN rules, asked when neither DANE nor MTA-STS decided; nil
	// for none. SetASNRules replaces them.
	ASN    *ASNRules
	Now    func() time.Time // clock; nil = time.Now
	Logger *slog.Logger
	// OnFetch, if set, is told the outcome of every MTA-STS policy fetch: "success" or
	// the RFC 8460 §4.3 result type of the failure (for metrics).
	OnFetch func(outcome string)
	// OnRefresh, if set, is told how many domains each background pass refreshes.
	OnRefresh func(n int)
	// BeforeWait, if set, is called with the lookup's context, on the goroutine that
	// called Resolve or ResolveInto, when a lookup is about to wait on the network for the
	// first time (a DNS query or policy fetch, or another lookup's of the same facts): once
	// per lookup at most, never for an answer from memory. The daemon writes the replies a
	// pipelining socketmap client is owed before that wait (socketmap.Flush).
	BeforeWait func(ctx context.Context)
	// STSObserver, if set, is told of every MTA-STS policy fetch failure with its domain
	// (TLS reporting, RFC 8460 §4.3.2.2). Fetches run on the refresh path only, never on a
	// cached answer's.
	STSObserver STSObserver

	MaxEntries int // hot store bound; 0 = unbounded
	// MaxBytes is the hot stores' memory budget, as their entries' estimated cost (see
	// bounds.go); 0 = 1 GiB, negative = unbounded.
	MaxBytes int64
	// The MTA-STS timers; SetSTSTimers replaces them (see STSTimers for their defaults).
	FetchTimeout    time.Duration
	FailureRetry    time.Duration
	RefreshInterval time.Duration
	TXTTTLMin       time.Duration
	NegativeTTLMin  time.Duration // bounds on caching "no MTA-STS record" (default 60s..1h)
	NegativeTTLMax  time.Duration
	DNSRetry        time.Duration // a failed TXT lookup is retried at most this often (default 60s)
}

// Engine resolves next-hops to Decisions. It is safe for concurrent use.
type Engine struct {
	opt       Options
	overrides atomic.Pointer[Overrides]
	daneSlot  atomic.Pointer[daneSlot]
	asnRules  atomic.Pointer[ASNRules]
	timers    atomic.Pointer[STSTimers] // from Options, replaced by SetSTSTimers
	mx        *cache.Memory[*mxState]
	sts       *cache.Memory[*stsState]
	tlsrpt    *cache.Memory[*tlsrptReply] // replies with TLSRPT attributes, by domain
	policies  *policyTable                // equal policies, shared by the states holding them
	dane      *cache.Memory[*daneEntry]
	flight    singleflight.Group
	bg        background
	// Purge and the paths that copy entries from disk into memory (Load, a lookup's
	// read-back): a purge bumps purges under the write lock; a copy checks, under the read
	// lock, that no purge happened since it read the disk, so a purged entry is never
	// brought back.
	purgeMu sync.RWMutex
	purges  atomic.Uint64
	// daneWholeAt is the DANE hot store's Dropped count when a Load found it holding every
	// outcome of the persistent store (-1: not known to): see daneWhole.
	daneWholeAt atomic.Int64
	// stsWholeAt is the same for the MTA-STS hot store: see stsWhole.
	stsWholeAt atomic.Int64
}

// Bounds on how long a positive TXT answer is trusted before the record is read again
// (conformance.md §4: re-read once older than the record's TTL as published, with no
// floor beyond a few seconds; Options.TXTTTLMin is the floor).
const (
	DefaultTXTTTLMin = 5 * time.Second
	txtTTLMax        = time.Hour
)

// kindSTS names MTA-STS state in the persistent store.
const kindSTS = "sts"

// refreshSlack is added to FetchTimeout to bound one domain's shared refresh (DNS lookups
// and the policy fetch, which the Fetcher bounds by FetchTimeout itself).
const refreshSlack = 5 * time.Second

// New builds an engine. Call Load to warm it from the persistent store and Run to start
// the background refresher.
func New(opt Options) (*Engine, error) {
	if opt.Resolver == nil || opt.Fetcher == nil {
		return nil, errors.New("policy: Resolver and Fetcher are required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.NegativeTTLMin, time.Minute)
	def(&opt.NegativeTTLMax, time.Hour)
	def(&opt.DNSRetry, time.Minute)
	if opt.MaxBytes == 0 {
		opt.MaxBytes = defaultMaxBytes
	}
	// The byte budget is shared out: MTA-STS states with their policies and plain replies
	// take half, DANE outcomes with their explanations 3/8, the replies with TLSRPT
	// attributes rendered for profiles that ask for them 1/16 (one evicted is rendered
	// again), MX addresses for ASN rules 1/16.
	b := max(opt.MaxBytes, 0)
	e := &Engine{opt: opt,
		sts:      cache.NewMemorySized(opt.MaxEntries, b/2, stsEntryCost, cache.KeyOf(func(st *stsState) string { return st.Domain })),
		tlsrpt:   cache.NewMemorySized(opt.MaxEntries, b/16, tlsrptReplyCost, cache.KeyOf(func(r *tlsrptReply) string { return r.state.Domain })),
		policies: newPolicyTable(),
		dane:     cache.NewMemorySized(opt.MaxEntries, b*3/8, daneEntryCost, cache.KeyOf(func(en *daneEntry) string { return en.state.Load().Domain })),
		mx:       cache.NewMemorySized(opt.MaxEntries, b/16, mxStateCost)}
	e.daneWholeAt.Store(-1)
	e.stsWholeAt.Store(-1)
	e.overrides.Store(opt.Overrides)
	e.SetSTSTimers(STSTimers{FetchTimeout: opt.FetchTimeout, FailureRetry: opt.FailureRetry, RefreshInterval: opt.RefreshInterval, TXTTTLMin: opt.TXTTTLMin})
	e.SetDANE(opt.DANE, opt.DANEOffReason)
	e.asnRules.Store(opt.ASN)
	e.bg.jobs = make(chan bgJob, bgQueueLen)
	return e, nil
}

// daneSlot is the DANE stage as configured now: an evaluator, or why there is none.
type daneSlot struct {
	ev  DANEEvaluator
	off string
}

// DANEEnabled reports whether the engine has a DANE stage.
func (e *Engine) DANEEnabled() bool { return e.daneSlot.Load().ev != nil }

// SetDANE switches the DANE stage on (ev non-nil) or off with the reason why, atomically:
// the daemon re-checks the resolver's validation and follows it.
func (e *Engine) SetDANE(ev DANEEvaluator, offReason string) {
	e.daneSlot.Store(&daneSlot{ev: ev, off: offReason})
}

// Resolve decides the policy for one Postfix next-hop under profile p, following the
// evaluation order of conformance.md §2. It allocates the Decision; ResolveInto does not.
func (e *Engine) Resolve(ctx context.Context, p *Profile, key string) *Decision {
	d := new(Decision)
	e.ResolveInto(ctx, p, key, d)
	return d
}

// ResolveInto is Resolve writing into d, which it overwrites entirely. A lookup the hot
// store answers formats nothing: the reasons are recorded, not rendered (Reasons renders
// them), and the reply of a cached policy or an operator rule was rendered once, when the
// state was first used or the rule built. An answer from the hot store does not allocate
// (TestHotPathAllocs).
func (e *Engine) ResolveInto(ctx context.Context, p *Profile, key string, d *Decision) {
	*d = Decision{Key: key, Profile: p.Name, TLSRPT: p.TLSRPT}
	d.why.eng = e
	var nh Nexthop
	if err := parseNexthopInto(key, &nh); err != nil {
		d.Result, d.Source = NotFound, SourceInput
		d.why.input = err
		return
	}
	domain := nh.Domain
	d.Domain = domain

	// 1. Operator overrides, before anything is looked up.
	if r := e.overrides.Load().Find(domain); r != nil {
		applyOverride(d, r)
		e.reportOnly(d, p, r.ReportOnly)
		return
	}

	slot := e.daneSlot.Load()
	daneOff := p.DANE && slot.ev == nil // the profile wants DANE, the resolver does not validate
	if !p.DANE {
		d.why.daneNote = daneProfileOff
	} else if daneOff {
		d.why.daneNote, d.why.daneOff = daneDisabled, slot.off
		if slot.off == "" {
			d.why.daneOff = "no DANE evaluator configured"
		}
		if p.DANERequired {
			daneRequiredOff(d)
			e.reportOnly(d, p, false)
			return
		}
	}

	// Network work, if any, is bounded by the profile's answer deadline.
	dl := newAnswerDeadline(ctx, p, e.opt.BeforeWait)
	defer dl.stop()
	wantDANE := p.DANE && slot.ev != nil
	f := e.facts(&dl, &nh, wantDANE, slot.ev)
	d.CacheHit = f.hit

	// The answer deadline passed before a fact was known: TEMP, so Postfix retries later,
	// rather than an answer that could be weaker than the domain's policy.
	if (wantDANE && f.dane == nil) || f.sts == nil {
		deadlinePassed(d)
		e.reportOnly(d, p, false)
		return
	}

	// With the DANE stage off, the domain's last known DANE facts still stand: an answer
	// weaker than they give would be a downgrade (heldWhileOff).
	if daneOff {
		f.dane = e.daneKnown(nh.DANEKey)
	}
	// 2. DANE: a usable DANE answer wins over MTA-STS (RFC 8461 §2).
	if f.dane != nil && e.applyDANE(d, p, f.dane, f.sts) {
		if daneOff {
			heldWhileOff(d)
		}
		if f.sts != nil && f.sts.usable(e.now()) {
			d.why.sts, d.why.stsStep = f.sts, stsAlso
		}
		e.reportOnly(d, p, false)
		return
	}
	// 3. MTA-STS.
	if e.applySTS(d, p, f.sts) {
		e.reportOnly(d, p, false)
		return
	}
	// ASN rules: a minimum level for domains hosted in listed networks.
	if e.applyASN(&dl, d, &nh) {
		e.reportOnly(d, p, false)
		return
	}
	// 4. The profile's default: NOTFOUND, so Postfix applies smtp_tls_security_level.
	d.Result, d.Source = NotFound, SourceDefault
	d.why.noPolicy = true
}

// deadlinePassed answers TEMP because the answer deadline passed with facts unknown.
func deadlinePassed(d *Decision) {
	d.Result, d.Source = Temp, SourceDeadline
	d.Message = "policy lookup for " + d.Domain + " did not finish in time"
	d.why.deadline = true
}

// SetOverrides replaces the operator rules atomically (configuration reload).
func (e *Engine) SetOverrides(o *Overrides) { e.overrides.Store(o) }

// SetASNRules replaces the ASN rules atomically (configuration reload).
func (e *Engine) SetASNRules(r *ASNRules) { e.asnRules.Store(r) }

// reportOnly turns d into a dry run when the profile or the rule asks for one: Postfix gets
// NOTFOUND, and d records what it would have been told (gradual rollout).
func (e *Engine) reportOnly(d *Decision, p *Profile, rule bool) {
	if !p.ReportOnly && !rule {
		return
	}
	d.Would = d.would
	if d.Would == nil {
		d.Would = &Would{Reply: d.PostfixReply(), Source: d.Source}
	}
	d.why.reportOnly = true
	d.Result, d.Level, d.Match, d.Servername, d.STS, d.Source = NotFound, "", nil, "", STSPolicy{}, SourceReportOnly
	d.reply, d.would, d.daneHosts = "", nil, nil
}

// facts are the per-domain inputs of a decision.
type facts struct {
	sts  *stsState
	dane *daneState // nil when the DANE stage is off
	hit  bool       // every fact came from the hot store
}

// facts gathers the MTA-STS facts of nh's policy domain and (if wanted) the DANE facts of
// nh's destination (conformance.md §1: a host next-hop or another port has DANE facts of
// its own, cached under nh.DANEKey). What the hot store holds fresh is
// used as is, with no goroutine, disk or network; on a miss of both, the DANE and MTA-STS
// lookups run in parallel, so a cold answer costs the slower chain, not the sum (issue 3).
func (e *Engine) facts(dl *answerDeadline, nh *Nexthop, wantDANE bool, ev DANEEvaluator) facts {
	now := e.now()
	domain := nh.Domain
	var f facts
	sts, stsOK := e.stsCached(domain, now)
	f.sts = sts
	if !wantDANE {
		if !stsOK {
			f.sts = e.refreshSTS(dl.context(), domain, false)
		}
		f.hit = stsOK
		return f
	}
	dst, daneOK := e.daneCached(nh.DANEKey, now)
	f.dane, f.hit = dst, stsOK && daneOK
	if f.hit {
		return f
	}
	ctx := dl.context()
	switch {
	case stsOK:
		f.dane = e.refreshDANE(ctx, *nh, ev)
	case daneOK:
		f.sts = e.refreshSTS(ctx, domain, false)
	default:
		dch := e.startDANE(ctx, *nh, ev)
		f.sts = e.refreshSTS(ctx, domain, false)
		f.dane = e.awaitDANE(ctx, nh.DANEKey, dch)
	}
	return f
}

// stsEntryFor returns domain's hot-store state; on a miss it looks in the persistent store
// (an entry evicted from memory by churn, or not loaded yet after a restart, is still on
// disk) before the caller goes to the network. Hits cost no disk access.
func (e *Engine) stsEntryFor(domain string) (*stsState, bool) {
	if en, ok := e.sts.Get(domain); ok {
		return en, true
	}
	if e.stsWhole() {
		return nil, false // nothing on disk that memory lacks: no store read on a cold answer's path
	}
	return readBack(e, e.sts, domain, e.stsFromDisk)
}

// stsWhole reports whether the MTA-STS hot store holds every state the persistent store
// does, as daneWhole does for DANE outcomes: a Load read the whole store into it, and
// nothing was evicted or refused since (every state learnt later goes to memory before
// the write-behind store, and a purge deletes from both). A never-seen domain then costs
// no store read (issue 19: the daemon's SQLite store cost a cold answer two SELECTs
// here, one per MTA-STS lookup of the domain, and one more for DANE).
func (e *Engine) stsWhole() bool {
	at := e.stsWholeAt.Load()
	return at >= 0 && uint64(at) == e.sts.Dropped()
}

// readBack reads domain's slot from the persistent store with fromDisk after a miss of
// mem, and keeps it there: never over a slot published meanwhile, nor after a purge since
// the read (then the slot is not used at all).
func readBack[V any](e *Engine, mem *cache.Memory[V], domain string, fromDisk func(string) (V, bool)) (V, bool) {
	var none V
	gen := e.purges.Load()
	v, ok := fromDisk(domain)
	if !ok || !e.keepFromDisk(gen, func() { mem.SetIfAbsent(domain, v) }) {
		return none, false
	}
	if cur, ok := mem.Get(domain); ok {
		return cur, true
	}
	return v, true
}

// stsFromDisk reads domain's MTA-STS state from the persistent store into a new slot,
// which it does not put in the hot store. An unreadable entry is logged and ignored.
func (e *Engine) stsFromDisk(domain string) (*stsState, bool) {
	if e.opt.Backend == nil {
		return nil, false
	}
	ent, ok, err := e.opt.Backend.Get(context.Background(), kindSTS, domain)
	if err != nil || !ok {
		return nil, false
	}
	return e.stsSlot(ent)
}

// stsSlot decodes a stored MTA-STS entry into a new slot, not put in the hot store. An
// unreadable entry is logged and ignored.
func (e *Engine) stsSlot(ent cache.Entry) (*stsState, bool) {
	rec, err := decodeState(ent, decodeSTS, func(s *stsRecord) string { return s.Domain })
	if err != nil {
		e.opt.Logger.Warn("skipping unreadable cache entry", "kind", kindSTS, "domain", ent.Key, "err", err)
		return nil, false
	}
	return newSTSState(e.policies, rec, nil, 0), true
}

// keepFromDisk runs store, which copies an entry read from disk into memory, unless a
// purge happened since gen (read before the disk was); it reports whether it ran.
func (e *Engine) keepFromDisk(gen uint64, store func()) bool {
	e.purgeMu.RLock()
	defer e.purgeMu.RUnlock()
	if e.purges.Load() != gen {
		return false
	}
	store()
	return true
}

// publish makes rec the domain's current state, queues it for the persistent store and
// returns the state the hot store holds. prev is the domain's previous policy, kept (with
// its rendered reply) when rec holds an equal one.
func (e *Engine) publish(rec *stsRecord, prev *heldPolicy) *stsState {
	st := newSTSState(e.policies, rec, prev, 0) // bounds rec too (boundSTSRecord), so the store gets what memory holds
	if old, ok := e.sts.Get(st.Domain); ok {
		st.used.Store(old.used.Load()) // a lookup between the two stores is not recorded: harmless
	} else {
		st.used.Store(e.opt.Now().UnixNano())
	}
	e.sts.Set(st.Domain, st)
	if e.opt.Backend == nil {
		return st
	}
	e.opt.Backend.Put(cache.Entry{Kind: kindSTS, Key: st.Domain, Value: encodeSTS(rec), Expires: rec.storeUntil(), Updated: e.opt.Now()})
	return st
}

// now is the engine's clock.
func (e *Engine) now() time.Time { return e.opt.Now() }

func bound(ttl uint32, lo, hi time.Duration) time.Duration {
	d := time.Duration(ttl) * time.Second
	return min(max(d, lo), hi)
}
