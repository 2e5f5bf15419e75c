package sqlitestore

import (
	"context"
	"fmt"
	"time"
)

// Sweep flushes pending writes, then deletes the stored entries whose Expires
// lies before now (to the second; entries without Expires are kept). It
// returns how many it deleted.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	if err := s.Flush(ctx); err != nil {
		return 0, err
	}
	s.flushMu.Lock() // keeps the writer connection for this statement
	defer s.flushMu.Unlock()
	res, err := s.w.ExecContext(ctx, "DELETE FROM entries WHERE expires > 0 AND expires < ?", now.Unix())
	if err != nil {
		return 0, s.writeError("sweeping expired entries from", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: sweep %s: %w", s.path, err)
	}
	return int(n), nil
}
