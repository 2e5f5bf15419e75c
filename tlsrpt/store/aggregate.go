package store

import (
	"context"
	"fmt"
	"sort"
)

// Group identifies one aggregation row: a UTC day ("2006-01-02"), the recipient domain,
// the TLSRPT record seen for it and the policy applied (the canonical JSON of a
// tlsrpt.Policy, so that identical policies aggregate).
type Group struct {
	Day, Domain, Record, Policy string
}

// Counts are a group's sessions.
type Counts struct{ OK, Failed int64 }

// DetailKey is one failure detail (canonical JSON of a tlsrpt.FailureDetail without its
// count) within a group.
type DetailKey struct {
	Group
	Detail string
}

// Batch is what the collector accumulates between two writes; Apply adds it to the
// store in one transaction.
type Batch struct {
	Sessions map[Group]*Counts
	Failures map[DetailKey]int64
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{Sessions: map[Group]*Counts{}, Failures: map[DetailKey]int64{}}
}

// Len is the number of rows the batch would touch.
func (b *Batch) Len() int { return len(b.Sessions) + len(b.Failures) }

// Apply adds the batch's counts to the store in one transaction. Counts for a day whose
// reports are already built are not added (they would never be reported); dropped
// reports how many sessions that concerned.
func (s *Store) Apply(ctx context.Context, b *Batch) (dropped int64, err error) {
	if b.Len() == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("tlsrpt store: %w", err)
	}
	defer tx.Rollback()
	built := map[string]bool{}
	isBuilt := func(day string) (bool, error) {
		if v, ok := built[day]; ok {
			return v, nil
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM built_days WHERE day=?", day).Scan(&n); err != nil {
			return false, err
		}
		built[day] = n > 0
		return n > 0, nil
	}
	for g, c := range b.Sessions {
		done, err := isBuilt(g.Day)
		if err != nil {
			return 0, fmt.Errorf("tlsrpt store: %w", err)
		}
		if done {
			dropped += c.OK + c.Failed
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions(day, domain, record, policy, ok, failed) VALUES (?,?,?,?,?,?)
			ON CONFLICT(day, domain, record, policy) DO UPDATE SET ok = ok + excluded.ok, failed = failed + excluded.failed`,
			g.Day, g.Domain, g.Record, g.Policy, c.OK, c.Failed); err != nil {
			return 0, fmt.Errorf("tlsrpt store: add sessions: %w", err)
		}
	}
	for k, n := range b.Failures {
		done, err := isBuilt(k.Day)
		if err != nil {
			return 0, fmt.Errorf("tlsrpt store: %w", err)
		}
		if done {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO failures(day, domain, record, policy, detail, n) VALUES (?,?,?,?,?,?)
			ON CONFLICT(day, domain, record, policy, detail) DO UPDATE SET n = n + excluded.n`,
			k.Day, k.Domain, k.Record, k.Policy, k.Detail, n); err != nil {
			return 0, fmt.Errorf("tlsrpt store: add failure detail: %w", err)
		}
	}
	return dropped, tx.Commit()
}

// DayGroup is everything aggregated for one (day, domain, record): the input of one
// report.
type DayGroup struct {
	Day, Domain, Record string
	Policies            []PolicyCounts
}

// PolicyCounts are one policy's counts and failure details.
type PolicyCounts struct {
	Policy  string
	Counts  Counts
	Details []DetailCount
}

// DetailCount is one failure detail and its count.
type DetailCount struct {
	Detail string
	N      int64
}

// UnbuiltDays lists the days before today (exclusive, "2006-01-02") that have counts and
// no reports built yet, oldest first.
func (s *Store) UnbuiltDays(ctx context.Context, today string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT day FROM sessions WHERE day < ?
		AND day NOT IN (SELECT day FROM built_days) ORDER BY day`, today)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	defer rows.Close()
	var days []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("tlsrpt store: %w", err)
		}
		days = append(days, d)
	}
	return days, rows.Err()
}

// Day returns the day's groups, sorted by domain and record, policies by their JSON.
func (s *Store) Day(ctx context.Context, day string) ([]DayGroup, error) {
	type gk struct{ domain, record string }
	groups := map[gk]map[string]*PolicyCounts{}
	rows, err := s.db.QueryContext(ctx, "SELECT domain, record, policy, ok, failed FROM sessions WHERE day=?", day)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	for rows.Next() {
		var k gk
		var p PolicyCounts
		if err := rows.Scan(&k.domain, &k.record, &p.Policy, &p.Counts.OK, &p.Counts.Failed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("tlsrpt store: %w", err)
		}
		if groups[k] == nil {
			groups[k] = map[string]*PolicyCounts{}
		}
		groups[k][p.Policy] = &p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, "SELECT domain, record, policy, detail, n FROM failures WHERE day=? ORDER BY detail", day)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	for rows.Next() {
		var k gk
		var pol string
		var d DetailCount
		if err := rows.Scan(&k.domain, &k.record, &pol, &d.Detail, &d.N); err != nil {
			rows.Close()
			return nil, fmt.Errorf("tlsrpt store: %w", err)
		}
		if p := groups[k][pol]; p != nil {
			p.Details = append(p.Details, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	var out []DayGroup
	for k, ps := range groups {
		g := DayGroup{Day: day, Domain: k.domain, Record: k.record}
		for _, p := range ps {
			g.Policies = append(g.Policies, *p)
		}
		sort.Slice(g.Policies, func(i, j int) bool { return g.Policies[i].Policy < g.Policies[j].Policy })
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].Record < out[j].Record
	})
	return out, nil
}
