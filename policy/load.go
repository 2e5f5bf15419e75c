package policy

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/mtasts"
)

// loadBatch is how many stored entries Load hands to a decoding worker at a time.
const loadBatch = 512

// Load fills the hot store from the persistent one, so a restarted daemon answers known
// domains at once, without network. Expired entries are skipped (a lookup would not use
// them), unreadable ones too (and logged), never served. The store is read on one goroutine and the entries decoded on GOMAXPROCS
// workers. An entry already in the hot store (published, or read back by a lookup, while
// Load ran) is left as it is: it is as new as the stored one or newer. Load never evicts:
// entries that find their part of the hot store full stay on disk, where a lookup reads
// them, and it stops reading once either hot store is full. A purge while Load runs stops
// it, so nothing purged is brought back. A Load that put every usable entry into memory
// lets later misses skip the store (memoryHoldsStore).
//
// Loaded states are compacted: strings and policies that many domains share are stored
// once (see compactor), and slices hold no spare capacity.
func (e *Engine) Load(ctx context.Context) (int, error) {
	if e.opt.Backend == nil {
		return 0, nil
	}
	gen := e.purges.Load()
	mark := &loadMark{evictions: e.evictions()}
	var loaded atomic.Int64
	var missed, stopped atomic.Bool // an entry found no room / reading stopped early
	batches := make(chan []cache.Entry, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			c := newCompactor()
			for b := range batches {
				for _, ent := range b {
					if e.loadEntry(ent, c, gen, &missed) {
						loaded.Add(1)
					}
				}
			}
		})
	}
	batch := make([]cache.Entry, 0, loadBatch)
	now := e.now()
	err := e.opt.Backend.Range(ctx, "", func(ent cache.Entry) bool {
		if !ent.Expires.IsZero() && ent.Expires.Before(now) {
			// Nothing in it can answer any more (a policy past max_age and its TXT check
			// due, a DANE outcome past its TTL): the sweep deletes it from the store.
			return true
		}
		batch = append(batch, ent)
		if len(batch) < loadBatch {
			return true
		}
		batches <- batch
		batch = make([]cache.Entry, 0, loadBatch)
		// The rest stays on disk, where a lookup reads it.
		more := !e.hotStoreFull() && e.purges.Load() == gen
		stopped.Store(!more)
		return more
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	if err == nil && !missed.Load() && !stopped.Load() && e.purges.Load() == gen {
		e.storeInMemory.Store(mark)
	}
	return int(loaded.Load()), err
}

// loadMark records a Load that put every usable stored entry into the hot stores, and
// the hot stores' evictions when it began.
type loadMark struct{ evictions uint64 }

// evictions is how many entries the MTA-STS and DANE hot stores have evicted, ever.
func (e *Engine) evictions() uint64 { return e.sts.Evictions() + e.dane.Evictions() }

// memoryHoldsStore reports whether the hot stores hold every entry of the persistent
// store that a lookup could use, so that a miss need not read the store (issue 19: no
// store read on a cold answer's path). That is so once a Load has put every usable
// stored entry into memory (not stopped by a full hot store, a purge or an error) and no
// entry has been evicted since it began: every later state reaches memory before the
// store (publish, publishDANE), and a purge deletes from both. Entries Load skipped as
// expired (nothing in them can answer) stay unread, as they do after a restart. Before
// such a Load, or after any eviction, a miss reads the store as before (readBack).
func (e *Engine) memoryHoldsStore() bool {
	m := e.storeInMemory.Load()
	return m != nil && e.evictions() == m.evictions
}

// hotStoreFull reports whether the MTA-STS or the DANE hot store holds MaxEntries. Load
// then stops reading; what it has not read stays on disk, where lookups find it.
func (e *Engine) hotStoreFull() bool {
	return e.opt.MaxEntries > 0 && (e.sts.Len() >= e.opt.MaxEntries || e.dane.Len() >= e.opt.MaxEntries) ||
		e.sts.Full() || e.dane.Full()
}

// loadEntry decodes one stored entry into the hot store and reports whether it is a
// readable state (counted as loaded even when a newer one was already there).
func (e *Engine) loadEntry(ent cache.Entry, c *compactor, gen uint64, missed *atomic.Bool) bool {
	switch ent.Kind {
	case kindSTS:
		std, err := decodeSTSInto(ent.Value, &c.rec, ent.Key, false)
		if err == nil && c.rec.Domain != ent.Key {
			err = fmt.Errorf("entry for %q holds state of %q", ent.Key, c.rec.Domain)
		}
		if err != nil {
			e.opt.Logger.Warn("skipping unreadable cache entry", "kind", ent.Kind, "domain", ent.Key, "err", err)
			return false
		}
		en := &stsEntry{}
		en.state.Store(c.sts(&c.rec, ent.Key, std))
		return e.keepFromDisk(gen, func() { keepLoaded(e.sts, ent.Key, en, missed) })
	case kindDANE:
		st, err := decodeState(ent, decodeDANE, func(s *daneState) string { return s.Domain })
		if err != nil {
			e.opt.Logger.Warn("skipping unreadable cache entry", "kind", ent.Kind, "domain", ent.Key, "err", err)
			return false
		}
		st.Domain = ent.Key
		en := &daneEntry{}
		en.state.Store(st)
		return e.keepFromDisk(gen, func() { keepLoaded(e.dane, ent.Key, en, missed) })
	default:
		return false
	}
}

// keepLoaded puts a loaded entry into mem unless key is there already (published or read
// back meanwhile, as new or newer); it sets missed when the entry found no room.
func keepLoaded[V any](mem *cache.Memory[V], key string, v V, missed *atomic.Bool) {
	if mem.SetIfAbsent(key, v) {
		return
	}
	if _, ok := mem.Get(key); !ok {
		missed.Store(true)
	}
}

// decodeState reads a persisted state with decode; one that does not parse, or names
// another domain than its key, is refused.
func decodeState[S any](ent cache.Entry, decode func([]byte) (*S, error), domainOf func(*S) string) (*S, error) {
	st, err := decode(ent.Value)
	if err != nil {
		return nil, err
	}
	if d := domainOf(st); d != ent.Key {
		return nil, fmt.Errorf("entry for %q holds state of %q", ent.Key, d)
	}
	return st, nil
}

// compactorMax bounds a compactor's table of policies; when it fills, policies seen only
// once are forgotten (those many domains share come back at once).
const compactorMax = 1 << 14

// compactor shrinks decoded states, which the decoder gives a fresh copy of every string
// and slices with spare capacity: the domain name and the ids are shared with equal
// strings of the same state, the policy's fixed strings with constants, and a policy equal
// to one already loaded (domains hosted by one provider publish the same policy) is
// replaced by it. States and policies are immutable once published, so sharing is safe.
// One compactor serves one goroutine.
type compactor struct {
	policies map[string]*sharedPolicy
	key      []byte    // a policy's key in policies, built anew for each
	rec      stsRecord // the record being loaded, reused
}

type sharedPolicy struct {
	p      *heldPolicy
	shared bool
}

func newCompactor() *compactor {
	return &compactor{policies: make(map[string]*sharedPolicy)}
}

// sts packs r, whose Domain equals key, into the state the hot store holds; std flags
// the standard fields decodeSTSInto left empty.
func (c *compactor) sts(r *stsRecord, key string, std uint64) *stsState {
	r.Domain = key
	var held *heldPolicy
	if r.Policy != nil {
		held = c.policy(r.Policy)
		r.Policy = held.Policy
	}
	st := newSTSState(r, held, std)
	if st.detail != nil {
		st.detail.txt = exact(st.detail.txt)
	}
	return st
}

// policy returns the loaded policy equal to p, or p compacted and remembered.
func (c *compactor) policy(p *mtasts.Policy) *heldPolicy {
	if p.Lines != nil && linesCanonical(p) {
		p.Lines = nil // see heldPolicy
	}
	k := append(c.key[:0], p.Version...)
	k = append(k, 0)
	k = append(append(k, p.Mode...), 0)
	k = append(strconv.AppendUint(k, uint64(p.MaxAge), 10), 0)
	for _, s := range p.MX {
		k = append(append(k, s...), 0)
	}
	k = append(k, 1)
	for _, s := range p.Lines {
		k = append(append(k, s...), 0)
	}
	c.key = k
	if sp, ok := c.policies[string(k)]; ok {
		sp.shared = true
		return sp.p
	}
	if p.Version == mtasts.PolicyVersion {
		p.Version = mtasts.PolicyVersion
	}
	for _, m := range []mtasts.Mode{mtasts.ModeEnforce, mtasts.ModeTesting, mtasts.ModeNone} {
		if p.Mode == m {
			p.Mode = m
		}
	}
	p.MX, p.Lines = exact(p.MX), exact(p.Lines)
	for i, l := range p.Lines {
		p.Lines[i] = constLine(l)
	}
	if len(c.policies) >= compactorMax {
		maps.DeleteFunc(c.policies, func(_ string, sp *sharedPolicy) bool { return !sp.shared })
		if len(c.policies) >= compactorMax/2 {
			clear(c.policies)
		}
	}
	hp := &heldPolicy{Policy: p}
	c.policies[string(k)] = &sharedPolicy{p: hp}
	return hp
}

// constLine returns the constant equal to l when l is a line every well-formed policy has
// one of (version, mode), else l.
func constLine(l string) string {
	switch l {
	case "version: " + mtasts.PolicyVersion:
		return "version: " + mtasts.PolicyVersion
	case "mode: " + string(mtasts.ModeEnforce):
		return "mode: " + string(mtasts.ModeEnforce)
	case "mode: " + string(mtasts.ModeTesting):
		return "mode: " + string(mtasts.ModeTesting)
	case "mode: " + string(mtasts.ModeNone):
		return "mode: " + string(mtasts.ModeNone)
	}
	return l
}

// exact returns s without spare capacity (a copy when it has some).
func exact[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
