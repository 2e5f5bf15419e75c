package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/mailtls/mailtls/cache"
)

// Get returns the latest entry for kind and key: a pending or in-flight write
// if there is one, else the stored row. Expired entries are returned until
// Sweep removes them; the caller checks Expires. A stored row that fails its
// checksum is reported missing (and counted and logged).
func (s *Store) Get(ctx context.Context, kind, key string) (cache.Entry, bool, error) {
	k := opKey{kind, key}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return cache.Entry{}, false, ErrClosed
	}
	o, ok := s.pending.get(k)
	if !ok {
		o, ok = s.inflight[k]
	}
	s.mu.Unlock()
	if ok {
		if o.del {
			return cache.Entry{}, false, nil
		}
		e := o.e
		e.Value = slices.Clone(e.Value)
		return e, true, nil
	}
	// Not pending: the latest operation on k, if any, was committed before
	// the check above (in-flight operations leave s.inflight only after
	// their commit), so the read below sees it.
	var value []byte
	var expires, updated int64
	var sum sql.NullInt64
	err := s.r.QueryRowContext(ctx, "SELECT value, expires, updated, "+s.sumColumn()+" FROM entries WHERE kind = ? AND key = ?", kind, key).
		Scan(&value, &expires, &updated, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return cache.Entry{}, false, nil
	}
	if err != nil {
		return cache.Entry{}, false, fmt.Errorf("sqlitestore: get %s %q: %w", kind, key, err)
	}
	if !s.verify(kind, key, value, expires, updated, sum) {
		return cache.Entry{}, false, nil // the caller looks the domain up afresh and overwrites it
	}
	return cache.Entry{Kind: kind, Key: key, Value: value, Expires: timeOrZero(expires), Updated: timeOrZero(updated)}, true, nil
}

// Range calls fn for each entry of kind ("" = every kind) until fn returns
// false. It does not wait for a flush: it reads the stored rows and overlays
// the pending writes as they were when the read began, so what it reports is
// one consistent state. Expired entries are included until swept; rows that
// fail their checksum are left out (counted and logged). fn may call
// Put, Delete and Get, but not Flush, Sweep or Close.
func (s *Store) Range(ctx context.Context, kind string, fn func(cache.Entry) bool) error {
	q, args := "SELECT kind, key, value, expires, updated, "+s.sumColumn()+" FROM entries", []any(nil)
	if kind != "" {
		q, args = q+" WHERE kind = ?", []any{kind}
	}

	// Holding flushMu, no operation is between the pending set and a commit:
	// the snapshot of the database taken by the first step of the query plus
	// the pending set taken next is the whole state at one instant.
	s.flushMu.Lock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.flushMu.Unlock()
		return ErrClosed
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		s.flushMu.Unlock()
		return fmt.Errorf("sqlitestore: range %q: %w", kind, err)
	}
	defer rows.Close()
	more := rows.Next()
	s.mu.Lock()
	overlay := s.pending.snapshot(kind)
	s.mu.Unlock()
	s.flushMu.Unlock()

	for ; more; more = rows.Next() {
		var e cache.Entry
		var expires, updated int64
		var sum sql.NullInt64
		if err := rows.Scan(&e.Kind, &e.Key, &e.Value, &expires, &updated, &sum); err != nil {
			return fmt.Errorf("sqlitestore: range %q: %w", kind, err)
		}
		if _, pending := overlay[opKey{e.Kind, e.Key}]; pending {
			continue // reported below from the pending set
		}
		if !s.verify(e.Kind, e.Key, e.Value, expires, updated, sum) {
			continue // not reported: a lookup finds it missing and looks the domain up afresh
		}
		e.Expires, e.Updated = timeOrZero(expires), timeOrZero(updated)
		if !fn(e) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlitestore: range %q: %w", kind, err)
	}
	for _, o := range overlay {
		if o.del {
			continue
		}
		e := o.e
		e.Value = slices.Clone(e.Value)
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// sumColumn is the checksum column to select: NULL in a legacy store, which has none.
func (s *Store) sumColumn() string {
	if s.legacy {
		return "NULL"
	}
	return "sum"
}
