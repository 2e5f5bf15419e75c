package policy

import (
	"context"
	"fmt"
	"runtime"
	"slices"
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
// it, so nothing purged is brought back. A Load that read the whole store with no DANE
// outcome (MTA-STS state) left out lets DANE (MTA-STS) lookups skip the disk on a miss
// (daneWhole, stsWhole).
//
// Loaded states are compacted: strings and policies that many domains share are stored
// once (see compactor), and slices hold no spare capacity.
func (e *Engine) Load(ctx context.Context) (int, error) {
	if e.opt.Backend == nil {
		return 0, nil
	}
	gen := e.purges.Load()
	daneDropped, stsDropped := e.dane.Dropped(), e.sts.Dropped()
	stopped := false
	var loaded atomic.Int64
	batches := make(chan []cache.Entry, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			c := &compactor{policies: e.policies}
			for b := range batches {
				for _, ent := range b {
					if e.loadEntry(ent, c, gen) {
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
		stopped = e.hotStoreFull() || e.purges.Load() != gen
		return !stopped
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	if err == nil && !stopped && e.purges.Load() == gen {
		if e.dane.Dropped() == daneDropped {
			e.daneWholeAt.Store(int64(daneDropped)) // see daneWhole
		}
		if e.sts.Dropped() == stsDropped {
			e.stsWholeAt.Store(int64(stsDropped)) // see stsWhole
		}
	}
	return int(loaded.Load()), err
}

// hotStoreFull reports whether the MTA-STS or the DANE hot store holds MaxEntries. Load
// then stops reading; what it has not read stays on disk, where lookups find it.
func (e *Engine) hotStoreFull() bool {
	return e.opt.MaxEntries > 0 && (e.sts.Len() >= e.opt.MaxEntries || e.dane.Len() >= e.opt.MaxEntries) ||
		e.sts.Full() || e.dane.Full()
}

// loadEntry decodes one stored entry into the hot store and reports whether it is a
// readable state (counted as loaded even when a newer one was already there).
func (e *Engine) loadEntry(ent cache.Entry, c *compactor, gen uint64) bool {
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
		st := c.sts(&c.rec, ent.Key, std)
		return e.keepFromDisk(gen, func() { e.sts.SetIfAbsent(ent.Key, st) })
	case kindDANE:
		st, err := decodeState(ent, decodeDANE, func(s *daneState) string { return s.Domain })
		if err != nil {
			e.opt.Logger.Warn("skipping unreadable cache entry", "kind", ent.Kind, "domain", ent.Key, "err", err)
			return false
		}
		st.Domain = ent.Key
		en := &daneEntry{}
		en.state.Store(st)
		return e.keepFromDisk(gen, func() { e.dane.SetIfAbsent(ent.Key, en) })
	default:
		return false
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

// compactor shrinks decoded states, which the decoder gives a fresh copy of every string
// and slices with spare capacity: the domain name and the ids are shared with equal
// strings of the same state, and a policy equal to one already held (domains hosted by
// one provider publish the same policy) is replaced by it (policyTable). States and
// policies are immutable once published, so sharing is safe. One compactor serves one
// goroutine.
type compactor struct {
	policies *policyTable
	rec      stsRecord // the record being loaded, reused
}

// sts packs r, whose Domain equals key, into the state the hot store holds; std flags
// the standard fields decodeSTSInto left empty.
func (c *compactor) sts(r *stsRecord, key string, std uint64) *stsState {
	r.Domain = key
	st := newSTSState(c.policies, r, nil, std)
	if st.detail != nil {
		st.detail.txt = exact(st.detail.txt)
	}
	return st
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
