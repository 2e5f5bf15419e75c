package receiver

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mailtls/mailtls/internal/sqlitedb"
	"github.com/mailtls/mailtls/tlsrpt"
)

// schemaSQL uses only plain SQL types (TEXT, BIGINT, INTEGER) and ON CONFLICT DO
// NOTHING, which SQLite and PostgreSQL both understand, so a PostgreSQL backend can
// share it. Times are Unix seconds (BIGINT); days are YYYY-MM-DD text (UTC).
const schemaSQL = `
CREATE TABLE IF NOT EXISTS rx_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rx_reports (
	organization TEXT NOT NULL, report_id TEXT NOT NULL,
	contact TEXT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT NOT NULL, day TEXT NOT NULL,
	received BIGINT NOT NULL, source TEXT NOT NULL, submitter TEXT NOT NULL,
	raw TEXT NOT NULL,
	PRIMARY KEY (organization, report_id));
CREATE TABLE IF NOT EXISTS rx_policies (
	organization TEXT NOT NULL, report_id TEXT NOT NULL, idx INTEGER NOT NULL,
	day TEXT NOT NULL, policy_domain TEXT NOT NULL, policy_type TEXT NOT NULL,
	policy_string TEXT NOT NULL, mx_host TEXT NOT NULL,
	ok BIGINT NOT NULL, failed BIGINT NOT NULL,
	PRIMARY KEY (organization, report_id, idx),
	FOREIGN KEY (organization, report_id) REFERENCES rx_reports (organization, report_id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS rx_policies_domain_day ON rx_policies (policy_domain, day);
CREATE TABLE IF NOT EXISTS rx_failures (
	organization TEXT NOT NULL, report_id TEXT NOT NULL, policy_idx INTEGER NOT NULL, idx INTEGER NOT NULL,
	day TEXT NOT NULL, policy_domain TEXT NOT NULL, result_type TEXT NOT NULL,
	sending_ip TEXT NOT NULL, mx_hostname TEXT NOT NULL, mx_helo TEXT NOT NULL, receiving_ip TEXT NOT NULL,
	additional_info TEXT NOT NULL, reason_code TEXT NOT NULL, n BIGINT NOT NULL,
	PRIMARY KEY (organization, report_id, policy_idx, idx),
	FOREIGN KEY (organization, report_id) REFERENCES rx_reports (organization, report_id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS rx_failures_domain_day ON rx_failures (policy_domain, day);
CREATE TABLE IF NOT EXISTS rx_daily (
	day TEXT NOT NULL, policy_domain TEXT NOT NULL, organization TEXT NOT NULL,
	reports BIGINT NOT NULL, ok BIGINT NOT NULL, failed BIGINT NOT NULL,
	PRIMARY KEY (policy_domain, day, organization));
CREATE INDEX IF NOT EXISTS rx_daily_day ON rx_daily (day);
CREATE TABLE IF NOT EXISTS rx_daily_types (
	day TEXT NOT NULL, policy_domain TEXT NOT NULL, organization TEXT NOT NULL, result_type TEXT NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (policy_domain, day, organization, result_type));
CREATE INDEX IF NOT EXISTS rx_daily_types_day ON rx_daily_types (day);
CREATE TABLE IF NOT EXISTS rx_daily_hosts (
	day TEXT NOT NULL, policy_domain TEXT NOT NULL, organization TEXT NOT NULL, kind TEXT NOT NULL, host TEXT NOT NULL,
	PRIMARY KEY (policy_domain, day, organization, kind, host));
CREATE INDEX IF NOT EXISTS rx_daily_hosts_day ON rx_daily_hosts (day);
`

// schemaVersion 2 added the daily roll-ups (rx_daily*) the summary reads.
const schemaVersion = "2"

// Store is the database of received reports. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating when missing, mode 0600 in a 0700 directory) the received-report
// database at path. A file of another kind or version is refused and left untouched.
func Open(path string) (*Store, error) {
	db, abs, err := sqlitedb.Open(path, sqlitedb.Schema{What: "tlsrpt receiver", Kind: "a mailtls received-reports database", SQL: schemaSQL,
		StampTable: "rx_meta", StampName: "rx_schema", Version: schemaVersion, BusyTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	return &Store{db: db, path: abs}, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Origin says how a report arrived.
type Origin struct {
	Source    string // "https" or "mail"
	Submitter string // mail: the aligned DKIM domain; https: the client address
	Received  time.Time
}

// Put stores r with its raw JSON unless a report with the same organisation and
// report-id is already stored (RFC 8460 §4.4: report-id is unique per reporter); it
// reports whether r was new.
func (s *Store) Put(ctx context.Context, r *tlsrpt.Report, raw []byte, o Origin) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("tlsrpt receiver: %w", err)
	}
	defer tx.Rollback()
	isNew, err := put(ctx, tx, r, raw, o)
	if err != nil || !isNew {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("tlsrpt receiver: %w", err)
	}
	return true, nil
}

// put stores r inside tx: the report, its policies and failure details, and its share of
// the daily roll-ups.
func put(ctx context.Context, tx *sql.Tx, r *tlsrpt.Report, raw []byte, o Origin) (bool, error) {
	day := r.DateRange.Start.UTC().Format(time.DateOnly)
	res, err := tx.ExecContext(ctx, `INSERT INTO rx_reports (organization, report_id, contact, start_time, end_time, day, received, source, submitter, raw)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		r.OrganizationName, r.ReportID, r.ContactInfo, r.DateRange.Start.Unix(), r.DateRange.End.Unix(), day,
		o.Received.Unix(), o.Source, o.Submitter, string(raw))
	if err != nil {
		return false, fmt.Errorf("tlsrpt receiver: store report: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	pol, err := tx.PrepareContext(ctx, `INSERT INTO rx_policies (organization, report_id, idx, day, policy_domain, policy_type, policy_string, mx_host, ok, failed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`)
	if err != nil {
		return false, fmt.Errorf("tlsrpt receiver: %w", err)
	}
	defer pol.Close()
	fd, err := tx.PrepareContext(ctx, `INSERT INTO rx_failures (organization, report_id, policy_idx, idx, day, policy_domain, result_type,
		sending_ip, mx_hostname, mx_helo, receiving_ip, additional_info, reason_code, n)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`)
	if err != nil {
		return false, fmt.Errorf("tlsrpt receiver: %w", err)
	}
	defer fd.Close()
	for i, p := range r.Policies {
		ps, _ := json.Marshal(p.Policy.String)
		mx, _ := json.Marshal(p.Policy.MXHost)
		if _, err := pol.ExecContext(ctx, r.OrganizationName, r.ReportID, i, day, p.Policy.Domain, string(p.Policy.Type),
			string(ps), string(mx), p.Summary.Successful, p.Summary.Failed); err != nil {
			return false, fmt.Errorf("tlsrpt receiver: store policy: %w", err)
		}
		for j, d := range p.FailureDetails {
			if _, err := fd.ExecContext(ctx, r.OrganizationName, r.ReportID, i, j, day, p.Policy.Domain, string(d.ResultType),
				d.SendingMTAIP, d.ReceivingMXHostname, d.ReceivingMXHelo, d.ReceivingIP, d.AdditionalInformation,
				d.FailureReasonCode, d.FailedSessionCount); err != nil {
				return false, fmt.Errorf("tlsrpt receiver: store failure detail: %w", err)
			}
		}
	}
	if err := rollUp(ctx, tx, r, day); err != nil {
		return false, fmt.Errorf("tlsrpt receiver: daily roll-up: %w", err)
	}
	return true, nil
}

// rollUp adds r to the daily roll-ups the summary reads: per (policy domain, day,
// organisation) the reports, sessions, failures by result type and the hosts named.
func rollUp(ctx context.Context, tx *sql.Tx, r *tlsrpt.Report, day string) error {
	type counts struct{ ok, failed int64 }
	doms := map[string]*counts{}
	var order []string
	types := map[[2]string]int64{}
	hosts := map[[3]string]bool{}
	for _, p := range r.Policies {
		d := p.Policy.Domain
		c := doms[d]
		if c == nil {
			c = &counts{}
			doms[d] = c
			order = append(order, d)
		}
		c.ok += p.Summary.Successful
		c.failed += p.Summary.Failed
		for _, f := range p.FailureDetails {
			types[[2]string{d, string(f.ResultType)}] += f.FailedSessionCount
			if f.SendingMTAIP != "" {
				hosts[[3]string{d, "mta", f.SendingMTAIP}] = true
			}
			if mx := mxLabel(f.ReceivingMXHostname, f.ReceivingIP); mx != "" {
				hosts[[3]string{d, "mx", mx}] = true
			}
		}
	}
	for _, d := range order {
		c := doms[d]
		if _, err := tx.ExecContext(ctx, `INSERT INTO rx_daily (day, policy_domain, organization, reports, ok, failed) VALUES ($1, $2, $3, 1, $4, $5)
			ON CONFLICT (policy_domain, day, organization) DO UPDATE SET reports = rx_daily.reports + 1,
			ok = rx_daily.ok + excluded.ok, failed = rx_daily.failed + excluded.failed`, day, d, r.OrganizationName, c.ok, c.failed); err != nil {
			return err
		}
	}
	for k, n := range types {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rx_daily_types (day, policy_domain, organization, result_type, n) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (policy_domain, day, organization, result_type) DO UPDATE SET n = rx_daily_types.n + excluded.n`,
			day, k[0], r.OrganizationName, k[1], n); err != nil {
			return err
		}
	}
	for k := range hosts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rx_daily_hosts (day, policy_domain, organization, kind, host) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, day, k[0], r.OrganizationName, k[1], k[2]); err != nil {
			return err
		}
	}
	return nil
}

// mxLabel names a receiving MX as the summary shows it: "name [ip]", the name or the IP.
func mxLabel(name, ip string) string {
	switch {
	case name != "" && ip != "":
		return name + " [" + ip + "]"
	case name != "":
		return name
	}
	return ip
}

// Raw returns the original JSON of a stored report.
func (s *Store) Raw(ctx context.Context, organization, reportID string) ([]byte, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, "SELECT raw FROM rx_reports WHERE organization = $1 AND report_id = $2", organization, reportID).Scan(&raw)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt receiver: report %q of %q: %w", reportID, organization, err)
	}
	return []byte(raw), nil
}

// Count returns how many reports are stored.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM rx_reports").Scan(&n)
	return n, err
}
