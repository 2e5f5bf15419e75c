package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Delivery states.
const (
	StatePending = "pending" // not yet delivered; retried until its give-up time
	StateSent    = "sent"    // accepted by the destination
	StateFailed  = "failed"  // given up after retrying past the give-up time
)

// NewReport is a report built for a day, with its destinations and when each delivery
// is first tried.
type NewReport struct {
	ID, Day, Domain, Record string
	Body                    []byte // the report JSON
	Destinations            []string
	FirstAttempt            time.Time
}

// SaveDay records the day's reports and their pending deliveries, marks the day built and
// drops its aggregated counts, all in one transaction: a report is built once, whatever
// restarts happen.
func (s *Store) SaveDay(ctx context.Context, day string, reports []NewReport, now, giveUp time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("tlsrpt store: %w", err)
	}
	defer tx.Rollback()
	for _, r := range reports {
		res, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO reports(id, day, domain, record, body, created) VALUES (?,?,?,?,?,?)",
			r.ID, r.Day, r.Domain, r.Record, r.Body, now.Unix())
		if err != nil {
			return fmt.Errorf("tlsrpt store: save report %s: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // already saved: keep its deliveries as they are
		}
		for _, uri := range r.Destinations {
			if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO deliveries(report_id, uri, state, next_attempt, give_up) VALUES (?,?,?,?,?)",
				r.ID, uri, StatePending, r.FirstAttempt.Unix(), giveUp.Unix()); err != nil {
				return fmt.Errorf("tlsrpt store: save delivery of %s: %w", r.ID, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO built_days(day, built) VALUES (?,?)", day, now.Unix()); err != nil {
		return fmt.Errorf("tlsrpt store: %w", err)
	}
	for _, t := range []string{"sessions", "failures"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE day=?", day); err != nil {
			return fmt.Errorf("tlsrpt store: %w", err)
		}
	}
	return tx.Commit()
}

// Delivery is one report's delivery to one destination.
type Delivery struct {
	ReportID, Day, Domain, URI, State string
	Attempts                          int
	NextAttempt, GiveUp, DoneAt       time.Time
	LastError                         string
}

const deliveryCols = "d.report_id, r.day, r.domain, d.uri, d.state, d.attempts, d.next_attempt, d.give_up, d.done_at, d.last_error"

func scanDeliveries(rows *sql.Rows) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var next, giveUp, done int64
		if err := rows.Scan(&d.ReportID, &d.Day, &d.Domain, &d.URI, &d.State, &d.Attempts, &next, &giveUp, &done, &d.LastError); err != nil {
			return nil, fmt.Errorf("tlsrpt store: %w", err)
		}
		d.NextAttempt, d.GiveUp = time.Unix(next, 0).UTC(), time.Unix(giveUp, 0).UTC()
		if done != 0 {
			d.DoneAt = time.Unix(done, 0).UTC()
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Due lists up to limit pending deliveries whose next attempt is at or before now,
// earliest first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+deliveryCols+` FROM deliveries d JOIN reports r ON r.id = d.report_id
		WHERE d.state = ? AND d.next_attempt <= ? ORDER BY d.next_attempt, d.report_id, d.uri LIMIT ?`, StatePending, now.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	return scanDeliveries(rows)
}

// Deliveries lists the deliveries in state ("" for all), oldest report first.
func (s *Store) Deliveries(ctx context.Context, state string) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+deliveryCols+` FROM deliveries d JOIN reports r ON r.id = d.report_id
		WHERE ? = '' OR d.state = ? ORDER BY r.day, d.report_id, d.uri`, state, state)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	return scanDeliveries(rows)
}

// MarkSent records a delivery as done at now.
func (s *Store) MarkSent(ctx context.Context, id, uri string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE deliveries SET state=?, attempts=attempts+1, done_at=?, last_error='' WHERE report_id=? AND uri=?",
		StateSent, now.Unix(), id, uri)
	if err != nil {
		return fmt.Errorf("tlsrpt store: %w", err)
	}
	return nil
}

// MarkFailed records a failed attempt: the delivery is retried at next (at the latest at
// its give-up time), or given up once now has reached the give-up time. It reports whether the delivery was given up.
func (s *Store) MarkFailed(ctx context.Context, id, uri string, cause error, next, now time.Time) (gaveUp bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("tlsrpt store: %w", err)
	}
	defer tx.Rollback()
	var giveUp int64
	if err := tx.QueryRowContext(ctx, "SELECT give_up FROM deliveries WHERE report_id=? AND uri=?", id, uri).Scan(&giveUp); err != nil {
		return false, fmt.Errorf("tlsrpt store: %w", err)
	}
	state, done, at := StatePending, int64(0), min(next.Unix(), giveUp) // the last try is at give-up time
	if now.Unix() >= giveUp {
		state, done, gaveUp = StateFailed, now.Unix(), true
	}
	if _, err := tx.ExecContext(ctx, "UPDATE deliveries SET state=?, attempts=attempts+1, next_attempt=?, done_at=?, last_error=? WHERE report_id=? AND uri=?",
		state, at, done, cause.Error(), id, uri); err != nil {
		return false, fmt.Errorf("tlsrpt store: %w", err)
	}
	return gaveUp, tx.Commit()
}

// ErrNotFound is returned for an unknown report id.
var ErrNotFound = errors.New("tlsrpt store: no such report")

// Report returns a report's JSON.
func (s *Store) Report(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, "SELECT body FROM reports WHERE id=?", id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	return b, nil
}

// Prune deletes reports (and their deliveries) built before cutoff, the built-day marks
// and any aggregated counts of days before cutoff. It returns how many reports it
// deleted.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("tlsrpt store: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "DELETE FROM reports WHERE created < ?", cutoff.Unix())
	if err != nil {
		return 0, fmt.Errorf("tlsrpt store: %w", err)
	}
	n, _ := res.RowsAffected()
	day := cutoff.UTC().Format(time.DateOnly)
	for _, q := range []string{"DELETE FROM built_days WHERE day < ?", "DELETE FROM sessions WHERE day < ?", "DELETE FROM failures WHERE day < ?"} {
		if _, err := tx.ExecContext(ctx, q, day); err != nil {
			return 0, fmt.Errorf("tlsrpt store: %w", err)
		}
	}
	return n, tx.Commit()
}
