package policy

import (
	"context"
	"sync"
)

// bgQueueLen bounds the hand-over of background MTA-STS work from lookups to workers. A
// full queue drops the hand-over: the domain's next lookup offers it again.
const bgQueueLen = 1024

// bgJob is one domain whose cached state answers lookups but is due for a TXT re-read or
// a refetch. It travels by value: handing it over allocates nothing.
type bgJob struct {
	domain string
	st     *stsState // the state that was due; its refreshing mark is cleared when done
}

// background is the engine's hand-over of refresh work from lookups answered from the hot
// store to workers (RFC 8461 §5.1: the re-read and refetch may happen in the background
// while the cached policy is unexpired).
type background struct {
	jobs    chan bgJob
	mu      sync.Mutex
	workers int // workers serving jobs now (Run); with none, a hand-over starts a goroutine
}

// refreshInBackground hands domain's due refresh to the background, once per domain at a
// time: st.refreshing is set until the refresh is done (the state it publishes starts
// unmarked). With Run's workers serving the
// queue, the hand-over is a channel send and allocates nothing; without them (an engine
// used without Run, as by `mailtls query -local`), a goroutine does the refresh.
func (e *Engine) refreshInBackground(domain string, st *stsState) {
	if !st.refreshing.CompareAndSwap(false, true) {
		return // already under way
	}
	if e.bg.serving() {
		select {
		case e.bg.jobs <- bgJob{domain: domain, st: st}:
		default:
			st.refreshing.Store(false) // queue full: the next lookup offers it again
		}
		return
	}
	go e.runBackground(context.Background(), bgJob{domain: domain, st: st})
}

// runBackground does one handed-over refresh and clears the domain's mark.
func (e *Engine) runBackground(ctx context.Context, j bgJob) {
	defer j.st.refreshing.Store(false)
	e.refreshSTS(ctx, j.domain, false)
}

// serveBackground runs n workers for handed-over refreshes until ctx ends.
func (e *Engine) serveBackground(ctx context.Context, n int) {
	e.bg.mu.Lock()
	e.bg.workers += n
	e.bg.mu.Unlock()
	defer func() {
		e.bg.mu.Lock()
		e.bg.workers -= n
		e.bg.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-e.bg.jobs:
					e.runBackground(ctx, j)
				}
			}
		})
	}
	wg.Wait()
	// Jobs left in the queue would keep their domains marked: hand them back.
	for {
		select {
		case j := <-e.bg.jobs:
			j.st.refreshing.Store(false)
		default:
			return
		}
	}
}

// serving reports whether workers take handed-over jobs.
func (b *background) serving() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.workers > 0
}
