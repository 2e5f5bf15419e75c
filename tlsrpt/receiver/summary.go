package receiver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SummaryQuery selects the reports a summary covers.
type SummaryQuery struct {
	Domain string    // policy domain; "" for all
	Since  time.Time // first UTC day included (by the report's start); zero for all
}

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
}

// maxHostsListed bounds the hosts listed per row.
const maxHostsListed = 20

// Summary aggregates the stored reports q selects, in three grouped queries (sessions,
// result types, hosts) answered from the (policy_domain, day) indexes.
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
	res, err := s.db.QueryContext(ctx, `SELECT day, policy_domain, organization, count(DISTINCT report_id), SUM(ok), SUM(failed)
		FROM rx_policies WHERE `+where+` GROUP BY day, policy_domain, organization ORDER BY day, policy_domain, organization`, args...)
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
		r.Day, r.Domain, r.Organization = k.day, k.dom, k.org
		rows[k] = r
		order = append(order, k)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
	}
	res, err = s.db.QueryContext(ctx, `SELECT day, policy_domain, organization, result_type, SUM(n)
		FROM rx_failures WHERE `+where+` GROUP BY day, policy_domain, organization, result_type`, args...)
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
	res, err = s.db.QueryContext(ctx, `SELECT DISTINCT day, policy_domain, organization, sending_ip, mx_hostname, receiving_ip
		FROM rx_failures WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
	}
	for res.Next() {
		var k key
		var sip, mx, rip string
		if err := res.Scan(&k.day, &k.dom, &k.org, &sip, &mx, &rip); err != nil {
			res.Close()
			return nil, fmt.Errorf("tlsrpt receiver: summary: %w", err)
		}
		r := rows[k]
		if r == nil {
			continue
		}
		if sip != "" && !slices.Contains(r.SendingMTAs, sip) && len(r.SendingMTAs) < maxHostsListed {
			r.SendingMTAs = append(r.SendingMTAs, sip)
		}
		host := mx
		if host == "" {
			host = rip
		} else if rip != "" {
			host = mx + " [" + rip + "]"
		}
		if host != "" && !slices.Contains(r.MXHosts, host) && len(r.MXHosts) < maxHostsListed {
			r.MXHosts = append(r.MXHosts, host)
		}
	}
	res.Close()
	for _, k := range order {
		r := rows[k]
		slices.Sort(r.SendingMTAs)
		slices.Sort(r.MXHosts)
		out.Rows = append(out.Rows, *r)
	}
	return out, nil
}
