package policy

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// refreshWorkers bounds the background refresher's concurrent domain refreshes.
const refreshWorkers = 8

// Run refreshes hot entries in the background until ctx ends, so that lookups of busy
// domains never wait for the network: it re-reads TXT records shortly before their checks
// go stale (for domains asked for since the last check) and refetches held policies daily
// and before they expire (RFC 8461 §5.1: senders should refresh proactively). Scans are
// jittered so a fleet does not refresh in step.
func (e *Engine) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 30 * time.Second
	}
	// Workers for the refreshes lookups hand over (stsCached), for as long as Run runs.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { e.serveBackground(ctx, refreshWorkers) })
	for {
		jitter := time.Duration(rand.Int64N(int64(every)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(every/2 + jitter):
		}
		e.RefreshDue(ctx)
	}
}

// RefreshDue runs one refresher pass and returns how many domains it refreshed.
func (e *Engine) RefreshDue(ctx context.Context) int {
	type job struct {
		domain      string
		dane, force bool
	}
	now := e.now()
	var jobs []job
	e.sts.Range(func(domain string, st *stsState) bool {
		if force, due := e.refreshDue(st, now); due {
			jobs = append(jobs, job{domain: domain, force: force})
		}
		return true
	})
	ev := e.daneSlot.Load().ev
	if ev != nil {
		e.dane.Range(func(domain string, en *daneEntry) bool {
			// Re-evaluate a domain in use at 90% of its TTL, before lookups would wait.
			st := en.state.Load()
			used := time.Unix(0, en.used.Load())
			checked := st.Checked()
			if used.After(checked) && !now.Before(checked.Add(st.Expires().Sub(checked)*9/10)) {
				jobs = append(jobs, job{domain: domain, dane: true})
			}
			return true
		})
	}
	work := make(chan job)
	var wg sync.WaitGroup
	for range min(refreshWorkers, len(jobs)) {
		wg.Go(func() {
			for j := range work {
				if j.dane {
					// DANE slots are named by canonical next-hop keys, which parse back.
					if nh, err := ParseNexthopKey(j.domain); err == nil {
						e.refreshDANE(ctx, nh, ev)
					}
				} else {
					e.refreshSTS(ctx, j.domain, j.force)
				}
			}
		})
	}
	n := 0
	for _, j := range jobs {
		select {
		case work <- j:
			n++
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if e.opt.OnRefresh != nil {
		e.opt.OnRefresh(n)
	}
	return n
}

// refreshDue decides whether an entry needs background work now, and whether the policy
// must be refetched even if its id is unchanged (force).
func (e *Engine) refreshDue(st *stsState, now time.Time) (force, due bool) {
	if st.detail != nil && st.detail.dnsFailedAt != 0 && now.Before(st.DNSFailedAt().Add(e.opt.DNSRetry)) {
		return false, false
	}
	if st.FailedID() != "" && now.Before(st.FailedAt().Add(e.timers.Load().FailureRetry)) {
		return false, false
	}
	if st.usable(now) {
		// Refetch daily, and at the latest when half of max_age has passed.
		age := time.Duration(st.Policy.MaxAge) * time.Second / 2
		if now.Sub(st.Fetched()) >= min(e.timers.Load().RefreshInterval, age) {
			return true, true
		}
	}
	// A domain asked for since its TXT check: re-read the record a little before the check
	// goes stale, so the next lookup is still answered from memory.
	used := time.Unix(0, st.used.Load())
	checked := st.TXTChecked()
	staleAt := checked.Add(st.ttl() * 9 / 10)
	return false, used.After(checked) && !now.Before(staleAt)
}
