package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/cache"
)

// Store is the SQLite cache.Backend. Create it with Open; it is safe for
// concurrent use.
type Store struct {
	path string
	opts Options
	log  *slog.Logger
	w    *sql.DB // single connection: the flush transaction, Sweep
	r    *sql.DB // query-only connections: Get, Range

	// flushMu serialises flushes. While it is held no operation is between
	// the pending set and a commit, which Range relies on.
	flushMu sync.Mutex

	mu             sync.Mutex
	pending        *queue
	inflight       map[opKey]*op // taken from pending by the running flush, not yet committed
	lastErr        error         // last flush failure; nil once a flush succeeds
	dropped        uint64        // writes dropped over MaxPending, ever
	droppedSinceOK uint64        // ... since the last successful flush
	lastFlush      time.Time
	closed         bool
	swept          uint64 // entries deleted by the scheduled sweep
	// legacy: a schema-1 file opened read-only, which has no checksums to check (the
	// migration that adds them needs to write); its values are served unverified.
	legacy  bool
	corrupt atomic.Uint64 // values refused for a checksum mismatch

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ cache.Backend = (*Store)(nil)

func newStore(path string, opts Options, w, r *sql.DB, legacy bool) *Store {
	s := &Store{
		legacy:   legacy,
		path:     path,
		opts:     opts,
		log:      opts.Logger.With("cache", path),
		w:        w,
		r:        r,
		pending:  newQueue(),
		inflight: make(map[opKey]*op),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go s.run()
	return s
}

// run is the writer goroutine: it flushes every FlushInterval and sweeps expired entries
// every SweepInterval until Close.
func (s *Store) run() {
	defer close(s.done)
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	var sweep <-chan time.Time
	if s.opts.SweepInterval > 0 && !s.opts.readOnly {
		st := time.NewTicker(s.opts.SweepInterval)
		defer st.Stop()
		sweep = st.C
	}
	healthy := true // as reported to OnHealth
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.Flush(context.Background()) // the error is kept for Health and logged
			s.reportHealth(&healthy)
		case <-sweep:
			n, err := s.Sweep(context.Background(), s.opts.Now())
			switch {
			case err != nil:
				s.log.Warn("cache: sweeping expired entries failed; retrying at the next sweep", "err", err)
			case n > 0:
				s.log.Info("cache: expired entries swept from the database", "deleted", n)
			}
			s.mu.Lock()
			s.swept += uint64(n)
			s.mu.Unlock()
		}
	}
}

// secs truncates t to whole seconds in UTC, the precision the database keeps.
func secs(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(t.Unix(), 0).UTC()
}

// Put records e for writing. It never blocks on I/O; a Put after Close is
// ignored. Put keeps its own copy of e.Value.
func (s *Store) Put(e cache.Entry) {
	e.Value = slices.Clone(e.Value)
	if e.Value == nil {
		e.Value = []byte{}
	}
	e.Expires, e.Updated = secs(e.Expires), secs(e.Updated)
	s.enqueue(&op{k: opKey{e.Kind, e.Key}, e: e})
}

// Delete records the removal of kind/key. It never blocks on I/O.
func (s *Store) Delete(kind, key string) {
	s.enqueue(&op{k: opKey{kind, key}, del: true})
}

func (s *Store) enqueue(o *op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.pending.add(o)
	for s.pending.len() > s.opts.MaxPending {
		s.pending.dropOldest()
		s.noteDropLocked()
	}
}

// noteDropLocked counts one dropped write and logs the first of a series.
func (s *Store) noteDropLocked() {
	s.dropped++
	s.droppedSinceOK++
	if s.droppedSinceOK == 1 {
		s.log.Warn("cache: too many writes waiting for the disk; dropping the oldest (kept in memory only)",
			"max_pending", s.opts.MaxPending, "last_error", s.lastErr)
	}
}

// Health returns nil while writes reach the database. Otherwise it returns the
// last flush error (wrapping ErrReadOnly or ErrFull when SQLite said so) and,
// if writes were dropped since the last successful flush, ErrPendingOverflow.
func (s *Store) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.lastErr != nil {
		errs = append(errs, s.lastErr)
	}
	if s.droppedSinceOK > 0 {
		errs = append(errs, fmt.Errorf("%w: %d writes dropped since the last successful flush (limit %d)",
			ErrPendingOverflow, s.droppedSinceOK, s.opts.MaxPending))
	}
	return errors.Join(errs...)
}

// Stats describes the write-behind state and the store's checks, for metrics.
type Stats struct {
	Pending   int       // operations waiting for a flush
	Dropped   uint64    // writes dropped over MaxPending since Open
	LastFlush time.Time // end of the last successful flush with something to write
	Swept     uint64    // expired entries deleted by the scheduled sweep since Open
	Corrupt   uint64    // stored values refused since Open: checksum mismatch (see checksum)
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Pending: s.pending.len() + len(s.inflight), Dropped: s.dropped, LastFlush: s.lastFlush,
		Swept: s.swept, Corrupt: s.corrupt.Load()}
}

// Close stops the writer, flushes what is pending and closes the database.
// It returns the final flush error, if any: those writes are lost. Calling
// Close again returns the same result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		err := s.Flush(context.Background())
		s.mu.Lock()
		s.closed = true
		s.pending = newQueue()
		s.mu.Unlock()
		s.closeErr = errors.Join(err, s.r.Close(), s.w.Close())
	})
	return s.closeErr
}
