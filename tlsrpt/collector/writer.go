package collector

import (
	"context"
	"time"

	"github.com/mailtls/mailtls/tlsrpt/store"
)

// writer writes batches to the store on its own goroutine, one at a time (write-behind:
// the aggregator goes on counting while a batch is written).
type writer struct {
	c    *Collector
	busy chan struct{} // holds a token while a batch is being written
}

func newWriter(c *Collector) *writer { return &writer{c: c, busy: make(chan struct{}, 1)} }

// idle reports whether no batch is being written.
func (w *writer) idle() bool { return len(w.busy) == 0 }

// wait blocks until the batch being written (if any) is in the store.
func (w *writer) wait() {
	w.busy <- struct{}{}
	<-w.busy
}

// write starts writing b; the caller must not touch b afterwards. It waits for the
// previous write first.
func (w *writer) write(b *store.Batch) {
	if b.Len() == 0 {
		return
	}
	w.busy <- struct{}{}
	go func() {
		defer func() { <-w.busy }()
		w.apply(b)
	}()
}

// apply writes b, retrying while the store refuses (e.g. a full disk), so that counts are
// kept as long as the process lives.
func (w *writer) apply(b *store.Batch) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		dropped, err := w.c.st.Apply(ctx, b)
		cancel()
		if err == nil {
			w.c.m.flushes.Inc()
			if dropped > 0 {
				w.c.m.rejected.WithLabelValues(ReasonReported).Add(float64(dropped))
				w.c.log.Warn("tlsrpt collector: results for a day already reported were not counted", "sessions", dropped)
			}
			return
		}
		w.c.m.flushErrors.Inc()
		w.c.log.Error("tlsrpt collector: writing the batch failed; retrying", "err", err, "attempt", attempt+1)
		if attempt >= 10 {
			w.c.log.Error("tlsrpt collector: giving up on a batch", "rows", b.Len())
			return
		}
		time.Sleep(time.Duration(attempt+1) * time.Second)
	}
}

func (w *writer) stop() { w.wait() }
