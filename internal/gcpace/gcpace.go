// Package gcpace paces the Go garbage collector of a process whose heap is mostly a
// long-lived cache: it bounds the garbage held between collections in bytes, where Go's
// default bounds it as a fraction of the live heap.
//
// With GOGC=100 the heap may grow to twice the live heap before the next collection, and
// a process's resident memory follows the heap's high-water mark. For mailtls holding a
// million cached policies (a live heap of 220–255 MB) the heap goal is about 445 MB, and
// under traffic the process's memory reaches 455 MB long after the cache itself stopped
// growing (BENCHMARKS.md, "Scale"). A Pacer sets the GC percentage from the live heap so
// that the heap may grow by Headroom bytes, but never allows less than MinPercent (a huge
// cache must not make the collector run without pause) and never more than Go's default
// of 100 (a small heap is paced as Go paces it).
package gcpace

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultMinPercent is the lowest GC percentage a Pacer sets unless told otherwise.
const DefaultMinPercent = 25

// maxPercent is Go's default GOGC: a Pacer never paces more loosely than Go would.
const maxPercent = 100

// liveMetric is the runtime's measure of the heap still reachable at the end of the last
// collection.
const liveMetric = "/gc/heap/live:bytes"

// Pacer adjusts the GC percentage to the live heap. Its methods are not safe for
// concurrent use; Run calls them from one goroutine.
type Pacer struct {
	// Headroom is how many bytes the heap may grow beyond the live heap before the next
	// collection. It must be positive.
	Headroom int64
	// MinPercent bounds the percentage from below; 0 means DefaultMinPercent.
	MinPercent int

	readLive func() uint64 // the runtime's live heap, or a test's
	set      func(int) int // debug.SetGCPercent, or a test's
	last     int           // the percentage last set, 0 before the first
}

// New returns a Pacer with the given headroom that reads the process's live heap and
// sets its GC percentage.
func New(headroom int64) *Pacer {
	sample := []metrics.Sample{{Name: liveMetric}}
	return &Pacer{Headroom: headroom, set: debug.SetGCPercent, readLive: func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0 // not reported by this runtime
		}
		return sample[0].Value.Uint64()
	}}
}

// Percent is the GC percentage for a live heap of live bytes: Headroom as a percentage
// of it, rounded up, within [MinPercent, 100]. An unknown (zero) live heap gets 100.
func (p *Pacer) Percent(live uint64) int {
	lo := p.MinPercent
	if lo <= 0 {
		lo = DefaultMinPercent
	}
	if live == 0 || p.Headroom <= 0 || uint64(p.Headroom) >= live {
		return maxPercent
	}
	pct := (uint64(p.Headroom)*100 + live - 1) / live // Headroom < live: no overflow
	return int(min(max(pct, uint64(lo)), maxPercent))
}

// Adjust sets the GC percentage for the current live heap, if it differs from the one
// set last, and returns it.
func (p *Pacer) Adjust() int {
	pct := p.Percent(p.readLive())
	if pct != p.last {
		p.set(pct)
		p.last = pct
	}
	return pct
}

// Run adjusts the percentage now, every interval and whenever kick receives, until ctx
// ends; then it restores the percentage that was in force before. kick may be nil.
func (p *Pacer) Run(ctx context.Context, interval time.Duration, kick <-chan struct{}) {
	before := p.set(maxPercent)
	defer p.set(before)
	p.last = maxPercent
	p.Adjust()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Adjust()
		case <-kick:
			p.Adjust()
		}
	}
}
