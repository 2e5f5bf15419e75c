package sqlitestore

import (
	"log/slog"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultFlushInterval = time.Second
	DefaultMaxPending    = 100000
	DefaultSweepInterval = 10 * time.Minute
	busyTimeoutMillis    = 5000 // wait this long for a lock held by another process
	readerConns          = 4
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// FlushInterval is how often pending writes are committed (default 1s).
	FlushInterval time.Duration
	// MaxPending bounds the writes waiting for a flush (default 100000). When
	// flushes keep failing, Put drops the oldest pending write beyond it and
	// counts it (Health reports ErrPendingOverflow) rather than grow without bound.
	MaxPending int
	// SweepInterval is how often the writer deletes expired entries (Sweep)
	// from the file (default 10m; negative: never, the caller sweeps).
	SweepInterval time.Duration
	// Now is the clock the scheduled sweep compares expiry times with
	// (default time.Now).
	Now func() time.Time
	// Logger receives flush failures and recoveries, once per state change,
	// and every value refused for a checksum mismatch (default: discard).
	Logger *slog.Logger

	// readOnly opens the database with SQLite's mode=ro, so every write fails
	// with SQLITE_READONLY. Tests use it to stand for a read-only file or
	// mount, which chmod cannot simulate when they run as root.
	readOnly bool
	// immutable adds SQLite's immutable=1 to a read-only open (OpenReadOnly): no locks,
	// no WAL index, for a file in a read-only directory where SQLite cannot create one.
	immutable bool
	// OnHealth, if set, is told by the writer goroutine each time Health changes
	// between nil and an error (a flush failed, writes were dropped, a flush
	// succeeded again), with the new Health. It must not call back into the store.
	OnHealth func(error)
}

func (o Options) withDefaults() Options {
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
