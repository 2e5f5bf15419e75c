package receiver

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SummaryQuery selects the reports a summary covers.
type SummaryQuery struct {
	Domain string    // policy domain; "" for all
	Since  time.Time // first UTC day included (by the report's start); zero for all
	Limit  int       // rows at most (oldest first); 0 means DefaultSummaryLimit
}

// DefaultSummaryLimit bounds a summary's rows, and so its memory, when the query sets
// no limit.
const DefaultSummaryLimit = 10000

// SummaryRow is one (day, policy domain, reporting organisation): sessions and failures
// as reported, the failure result types and the hosts involved.
type SummaryRow struct {
	Day          string           `json:"day"`
	Domain       string           `json:"domain"`
	Organization string           `json:"organization"`
	Reports      int64            `json:"reports"`
	Successful   int64            `json:"successful_sessions"`
	Failed       int64            `json:"failed_sessions"`
	ResultTypes  map[string]int64 `json:"failure_result_types,omitempty"`
	SendingMTAs  []string         `json:"sending_mta_ips,omitempty"`
	MXHosts      []string         `json:"receiving_mx_hosts,omitempty"`
}

// FailureRate is Failed over all sessions (0 without sessions).
func (r SummaryRow) FailureRate() float64 {
	if r.Successful+r.Failed == 0 {
		return 0
	}
	return float64(r.Failed) / float64(r.Successful+r.Failed)
}

// Summary is the answer to a SummaryQuery, rows by day, domain and organisation.
type Summary struct {
	Since string       `json:"since,omitempty"`
	Rows  []SummaryRow `json:"rows"`
	// Truncated is set when more rows matched than the limit.
	Truncated bool `json:"truncated,omitempty"`
}

// maxHostsListed bounds the hosts listed per row.
const maxHostsListed = 20

// Summary answers q from the daily roll-ups Put maintains (rx_daily, rx_daily_types,
// rx_daily_hosts): its cost grows with days × domains × organisations, not with reports.
func (s *Store) Summary(ctx context.Context, q SummaryQuery) (*Summary, error) {
	where, args := "1=1", []any{}
	if q.Domain != "" {
		args = append(args, strings.ToLower(strings.TrimSuffix(q.Domain, ".")))
		where += fmt.Sprintf(" AND policy_domain = $%d", len(args))
	}
	out := &Summary{}
	if !q.Since.IsZero() {
		out.Since = q.Since.UTC().Format(time.DateOnly)
		args = append(args, out.Since)
		where += fmt.Sprintf(" AND day >= $%d", len(args))
	}
	type key struct{ day, dom, org string }
	rows := map[key]*SummaryRow{}
	var order []key
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSummaryLimit
	}
	res, err := s.db.QueryContext(ctx, `SELECT day, policy_domain, organization, reports, ok, failed
		FROM rx_daily WHERE `+where+fmt.Sprintf(` ORDER BY day, policy_domain, organization LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
	}
	for res.Next() {
		var k key
		r := &SummaryRow{}
		if err := res.Scan(&k.day, &k.dom, &k.org, &r.Reports, &r.Successful, &r.Failed); err != nil {
			res.Close()
			return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
		}
		if len(order) == limit {
			out.Truncated = true
			break
		}
		r.Day, r.Domain, r.Organization = k.day, k.dom, k.org
		rows[k] = r
		order = append(order, k)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
	}
	if len(order) == 0 {
		return out, nil
	}
	// The detail queries need only the days the kept rows cover.
	args = append(args, order[len(order)-1].day)
	where += fmt.Sprintf(" AND day <= $%d", len(args))
	res, err = s.db.QueryContext(ctx, `SELECT day, policy_domain, organization, result_type, n FROM rx_daily_types WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
	}
	for res.Next() {
		var k key
		var t string
		var n int64
		if err := res.Scan(&k.day, &k.dom, &k.org, &t, &n); err != nil {
			res.Close()
			return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
		}
		if r := rows[k]; r != nil {
			if r.ResultTypes == nil {
				r.ResultTypes = map[string]int64{}
			}
			r.ResultTypes[t] += n
		}
	}
	res.Close()
	res, err = s.db.QueryContext(ctx, `SELECT day, policy_domain, organization, kind, host FROM rx_daily_hosts WHERE `+where+
		` ORDER BY day, policy_domain, organization, kind, host`, args...)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
	}
	for res.Next() {
		var k key
		var kind, host string
		if err := res.Scan(&k.day, &k.dom, &k.org, &kind, &host); err != nil {
			res.Close()
			return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
		}
		r := rows[k]
		if r == nil {
			continue
		}
		if kind == "mta" && len(r.SendingMTAs) < maxHostsListed {
			r.SendingMTAs = append(r.SendingMTAs, host)
		} else if kind == "mx" && len(r.MXHosts) < maxHostsListed {
			r.MXHosts = append(r.MXHosts, host)
		}
	}
	res.Close()
	for _, k := range order {
		r := rows[k]
		out.Rows = append(out.Rows, *r)
	}
	return out, nil
}
