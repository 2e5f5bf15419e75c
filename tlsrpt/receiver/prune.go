package receiver

import (
	"context"
	"fmt"
	"time"
)

// Prune deletes the reports whose day (UTC, by their start) is before cutoff, with their
// policies, failure details and daily roll-ups, and returns how many reports went.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	day := cutoff.UTC().Format(time.DateOnly)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("tlsrpt receiver: prune: %w", err)
	}
	defer tx.Rollback()
	var n int64
	for _, q := range []string{"rx_failures", "rx_policies", "rx_reports", "rx_daily", "rx_daily_types", "rx_daily_hosts"} {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+q+" WHERE day < $1", day)
		if err != nil {
			return 0, fmt.Errorf("tlsrpt receiver: prune %s: %w", q, err)
		}
		if q == "rx_reports" {
			n, _ = res.RowsAffected()
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("tlsrpt receiver: prune: %w", err)
	}
	return n, nil
}
