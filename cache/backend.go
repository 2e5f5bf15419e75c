package cache

import (
	"context"
	"time"
)

// Entry is one persisted fact. The policy engine encodes Value itself (a compact
// versioned binary format); the backend stores it as opaque bytes.
type Entry struct {
	Kind    string    // namespace, e.g. "sts", "dane"
	Key     string    // the policy domain (A-label, lower-case)
	Value   []byte    // opaque to the backend; Put keeps its own copy
	Expires time.Time // after this the entry is useless and may be swept; zero = never
	Updated time.Time // when the engine last wrote the fact
}

// Backend is a persistent store for Entry values, keyed by Kind and Key.
//
// Writes are write-behind: Put and Delete return at once and the backend
// applies them later (periodically, on Flush and on Close). Reads see the
// latest write for a key whether or not it has reached the disk yet.
// Implementations are safe for concurrent use.
type Backend interface {
	// Put records e, replacing any earlier entry (stored or pending) with the
	// same Kind and Key. It never blocks on I/O.
	Put(e Entry)
	// Delete removes the entry for kind and key. It never blocks on I/O.
	Delete(kind, key string)
	// Get returns the latest entry for kind and key, including writes not yet
	// flushed. The bool is false when there is none.
	Get(ctx context.Context, kind, key string) (Entry, bool, error)
	// Range calls fn for every entry of kind (every kind when kind is ""),
	// pending writes included, until fn returns false. Order is unspecified.
	// fn may call Put, Delete and Get but not Flush or Close.
	Range(ctx context.Context, kind string, fn func(Entry) bool) error
	// Flush writes all pending operations to persistent storage now.
	Flush(ctx context.Context) error
	// Health returns nil, or the error that keeps writes from being persisted
	// (read-only or full disk, dropped writes). The daemon keeps serving from
	// memory and reports it.
	Health() error
	// Close flushes pending writes and releases the store. It returns the
	// flush error, if any: those writes are lost.
	Close() error
}
