package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const (
	upsertSQL = `INSERT INTO entries (kind, key, value, expires, updated, sum) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires, updated = excluded.updated, sum = excluded.sum`
	deleteSQL = `DELETE FROM entries WHERE kind = ? AND key = ?`
)

// Flush commits every pending operation in one transaction. On failure the
// operations stay pending (still bounded by MaxPending) for the next attempt,
// and Health reports the error until a flush succeeds; a failure caused by
// ctx alone does not change Health.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	ops := s.pending.takeAll()
	for _, o := range ops {
		s.inflight[o.k] = o
	}
	s.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}

	err := s.write(ctx, ops)

	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.inflight)
	if err == nil {
		s.lastFlush = time.Now()
		if s.lastErr != nil || s.droppedSinceOK > 0 {
			s.log.Info("cache: writes reach the database again", "dropped", s.droppedSinceOK)
		}
		s.lastErr, s.droppedSinceOK = nil, 0
		return nil
	}
	s.pending.restore(ops)
	for s.pending.len() > s.opts.MaxPending {
		s.pending.dropOldest()
		s.noteDropLocked()
	}
	if ctx.Err() != nil {
		return err // the caller gave up; says nothing about the disk
	}
	err = s.writeError(fmt.Sprintf("writing %d cache entries to", len(ops)), err)
	if s.lastErr == nil || sqliteCode(s.lastErr) != sqliteCode(err) {
		s.log.Error("cache: cannot write to the database; serving from memory and retrying",
			"err", err, "pending", s.pending.len())
	}
	s.lastErr = err
	return err
}

// write applies ops in one transaction.
func (s *Store) write(ctx context.Context, ops []*op) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var up, del *sql.Stmt
	for _, o := range ops {
		if o.del {
			if del == nil {
				if del, err = tx.PrepareContext(ctx, deleteSQL); err != nil {
					return err
				}
			}
			if _, err = del.ExecContext(ctx, o.k.kind, o.k.key); err != nil {
				return err
			}
			continue
		}
		if up == nil {
			if up, err = tx.PrepareContext(ctx, upsertSQL); err != nil {
				return err
			}
		}
		exp, upd := unixOrZero(o.e.Expires), unixOrZero(o.e.Updated)
		if _, err = up.ExecContext(ctx, o.k.kind, o.k.key, o.e.Value, exp, upd, checksum(o.k.kind, o.k.key, o.e.Value, exp, upd)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// writeError describes a failed write (what), wrapping ErrReadOnly or ErrFull
// where SQLite's result code says so.
func (s *Store) writeError(what string, err error) error {
	if c := classify(err); c != nil {
		return fmt.Errorf("%w: %s %s: %w", c, what, s.path, err)
	}
	return fmt.Errorf("sqlitestore: %s %s: %w", what, s.path, err)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
