package hosting

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// defaultWorkers bounds concurrent MX lookups and upstream fetches of one refresh pass.
const defaultWorkers = 8

// Options configure a Host.
type Options struct {
	// Builder computes policies; required.
	Builder *Builder
	// State, if set, records served policies for RFC 8461 §8.3 (safe removal) and lets
	// a domain removed from the configuration be retired rather than dropped.
	State *State
	Log   *slog.Logger
	// Metrics, if set, receives request counts and domain states.
	Metrics *Metrics
	// OnChange, if set, is called each time a domain's served policy id changes or a
	// domain stops being servable: the audit trail.
	OnChange func(Change)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Workers bounds concurrent refreshes (default 8).
	Workers int
}

// Change is one change of what a domain serves.
type Change struct {
	Time   time.Time   `json:"time"`
	Domain string      `json:"domain"`
	OldID  string      `json:"old_id,omitempty"`
	NewID  string      `json:"new_id,omitempty"`
	Mode   mtasts.Mode `json:"mode,omitempty"`
	Source Source      `json:"source"`
	// Err is set when the domain has nothing valid to serve any more.
	Err string `json:"error,omitempty"`
}

// Host is the set of hosted domains and their current policies. Lookups are lock-free
// reads of an immutable table whose entries carry an atomically replaced policy.
type Host struct {
	opts       Options
	tab        atomic.Pointer[table]
	updateMu   sync.Mutex // serialises Update
	configured []Spec     // the specs of the last Update, guarded by updateMu
}

type table struct {
	byName map[string]*entry // by policy host name, mta-sts.<domain>
	list   []*entry
}

type entry struct {
	spec Spec
	cur  atomic.Pointer[Policy]
	next atomic.Int64 // unix nanoseconds of the next refresh; 0: never
	busy atomic.Bool  // a refresh is running
}

// New returns a Host serving nothing until Update.
func New(opts Options) *Host {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	h := &Host{opts: opts}
	h.tab.Store(&table{byName: map[string]*entry{}})
	return h
}

// Update replaces the hosted domains (start and reload). Domains whose spec did not
// change keep their served policy; static policies are built at once, MX-derived and
// mirrored ones at the next refresh pass (Refresh or Run). A domain that was served
// before (State) but is no longer configured is retired: served as mode none until
// senders' cached policies have expired (RFC 8461 §8.3), then dropped.
func (h *Host) Update(specs []Spec) {
	h.updateMu.Lock()
	defer h.updateMu.Unlock()
	h.configured = specs
	now := h.opts.Now()
	old := h.tab.Load()
	all := specs
	if st := h.opts.State; st != nil {
		retiring, removed := RetiringSpecs(st, specs, now)
		for _, d := range removed {
			st.Forget(d)
			h.opts.Log.Info("hosting: domain removed; its _mta-sts TXT and mta-sts records can be deleted now (RFC 8461 §8.3)", "domain", d)
		}
		for _, r := range retiring {
			ds, _ := st.Get(r.Domain)
			h.opts.Log.Warn("hosting: domain no longer configured is served as mode none until senders' cached policies expire (RFC 8461 §8.3); publish the id from `mailtls hosting records`",
				"domain", r.Domain, "removal_safe_after", ds.SafeAfter)
		}
		all = append(all[:len(all):len(all)], retiring...)
	}
	t := &table{byName: make(map[string]*entry, len(all)), list: make([]*entry, 0, len(all))}
	for _, s := range all {
		e := old.byName[s.Name()]
		if e == nil || !sameSpec(e.spec, s) {
			prev := e
			e = &entry{spec: s}
			if prev != nil {
				// Until the new spec's policy is computed the old one is served, and the
				// change is reported against it.
				e.cur.Store(prev.cur.Load())
			}
			if e.spec.Upstream == "" && !(e.spec.MXAuto && e.spec.Mode != mtasts.ModeNone) {
				p, _ := h.opts.Builder.Build(context.Background(), s, nil, now)
				h.set(e, p, now)
			} else {
				e.next.Store(now.UnixNano()) // due at once
			}
		}
		t.byName[s.Name()] = e
		t.list = append(t.list, e)
	}
	h.tab.Store(t)
	h.saveState()
}

// RetiringSpecs returns the specs of domains the state remembers but specs no longer
// list whose removal is not yet safe (served as mode none until it is, RFC 8461 §8.3),
// and the names of those whose removal is safe.
func RetiringSpecs(st *State, specs []Spec, now time.Time) (retiring []Spec, removed []string) {
	inConfig := make(map[string]bool, len(specs))
	for _, s := range specs {
		inConfig[s.Domain] = true
	}
	for _, d := range st.Domains() {
		if inConfig[d] {
			continue
		}
		if ds, _ := st.Get(d); ds.RemovalSafe(now) {
			removed = append(removed, d)
			continue
		}
		retiring = append(retiring, retiringSpec(d))
	}
	return retiring, removed
}

// Lookup returns the policy for a request's Host header value ("mta-sts.example.com",
// any case, optionally with a port or a trailing dot) and the domain's class for metrics.
// It returns nil, ClassUnknown for a name that is not hosted.
func (h *Host) Lookup(host string) (*Policy, Class) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	e := h.tab.Load().byName[host]
	if e == nil {
		return nil, ClassUnknown
	}
	return e.cur.Load(), e.class()
}

// Hosted reports whether name (lower-case) is a policy host name served here.
func (h *Host) Hosted(name string) bool {
	_, ok := h.tab.Load().byName[strings.TrimSuffix(name, ".")]
	return ok
}

// Specs returns the specs being served, including retiring domains.
func (h *Host) Specs() []Spec {
	t := h.tab.Load()
	out := make([]Spec, len(t.list))
	for i, e := range t.list {
		out[i] = e.spec
	}
	return out
}

// Policies returns the current policy of every served domain (nil for one not yet
// computed), in configuration order.
func (h *Host) Policies() []*Policy {
	t := h.tab.Load()
	out := make([]*Policy, len(t.list))
	for i, e := range t.list {
		out[i] = e.cur.Load()
	}
	return out
}

// Refresh recomputes every policy that is due (MX records past their TTL, mirrors due
// for a fetch), at most Workers at a time, and returns when they are done. Retiring
// domains whose removal became safe are dropped.
func (h *Host) Refresh(ctx context.Context) {
	now := h.opts.Now()
	t := h.tab.Load()
	sem := make(chan struct{}, h.opts.Workers)
	var wg sync.WaitGroup
	retire := false
	for _, e := range t.list {
		if e.spec.Retiring && h.opts.State != nil {
			if ds, ok := h.opts.State.Get(e.spec.Domain); ok && ds.RemovalSafe(now) {
				retire = true
			}
		}
		n := e.next.Load()
		if n == 0 || n > now.UnixNano() || !e.busy.CompareAndSwap(false, true) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			e.busy.Store(false)
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem; e.busy.Store(false) }()
			p, again := h.opts.Builder.Build(ctx, e.spec, e.cur.Load(), now)
			h.set(e, p, h.opts.Now())
			if again > 0 {
				e.next.Store(h.opts.Now().Add(again).UnixNano())
			} else {
				e.next.Store(0)
			}
		})
	}
	wg.Wait()
	if retire {
		h.updateMu.Lock()
		specs := h.configured
		h.updateMu.Unlock()
		h.Update(specs)
	}
	h.saveState()
	if h.opts.Metrics != nil {
		h.opts.Metrics.observeDomains(h.tab.Load(), h.opts.Now())
	}
}

// Run refreshes policies as they fall due until ctx ends.
func (h *Host) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		h.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// set installs p as e's policy and reports a change of id or of servability.
func (h *Host) set(e *entry, p *Policy, now time.Time) {
	old := e.cur.Swap(p)
	switch {
	case old != nil && old.ID == p.ID && old.Err == p.Err:
		return
	case p.Err != "":
		if old != nil && old.Err != "" {
			return // still failing: said already
		}
		h.opts.Log.Error("hosting: no valid policy to serve", "domain", p.Domain, "source", p.Source, "err", p.Err)
	default:
		if h.opts.State != nil {
			h.opts.State.Served(p, now)
		}
		h.opts.Log.Info("hosting: served policy id changed; publish it in the _mta-sts TXT record",
			"domain", p.Domain, "id", p.ID, "old_id", idOf(old), "mode", p.Mode, "source", p.Source)
	}
	if h.opts.OnChange != nil {
		h.opts.OnChange(Change{Time: now, Domain: p.Domain, OldID: idOf(old), NewID: p.ID, Mode: p.Mode, Source: p.Source, Err: p.Err})
	}
}

func (h *Host) saveState() {
	if h.opts.State == nil {
		return
	}
	if err := h.opts.State.Save(); err != nil {
		h.opts.Log.Error("hosting: cannot save state; safe-removal times may be lost on restart", "err", err)
	}
}

func idOf(p *Policy) string {
	if p == nil || p.Err != "" {
		return ""
	}
	return p.ID
}

func sameSpec(a, b Spec) bool {
	return a.Domain == b.Domain && a.Mode == b.Mode && slices.Equal(a.MX, b.MX) && a.MXAuto == b.MXAuto &&
		a.MaxAge == b.MaxAge && a.Upstream == b.Upstream && a.CertFile == b.CertFile && a.KeyFile == b.KeyFile &&
		a.Retiring == b.Retiring
}
