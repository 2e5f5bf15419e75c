package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const schemaSQL = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
	day TEXT NOT NULL, domain TEXT NOT NULL, record TEXT NOT NULL, policy TEXT NOT NULL,
	ok INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, domain, record, policy));
CREATE TABLE IF NOT EXISTS failures (
	day TEXT NOT NULL, domain TEXT NOT NULL, record TEXT NOT NULL, policy TEXT NOT NULL,
	detail TEXT NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY (day, domain, record, policy, detail));
CREATE TABLE IF NOT EXISTS built_days (day TEXT PRIMARY KEY, built INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
	id TEXT PRIMARY KEY, day TEXT NOT NULL, domain TEXT NOT NULL, record TEXT NOT NULL,
	body BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
	report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE, uri TEXT NOT NULL,
	state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,
	give_up INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '', done_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (report_id, uri));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt);
`

const schemaVersion = "1"

// Store is an open TLS reporting database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating when missing, mode 0600 in a 0700 directory) the database at path.
// A file of another kind or version is refused and left untouched.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("tlsrpt store: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: %w", err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("tlsrpt store: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1) // one writer; reads are few (the CLI, the reporter)
	s := &Store{db: db, path: abs}
	if err := s.init(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var tables int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type='table'").Scan(&tables); err != nil {
		return fmt.Errorf("tlsrpt store: %s: %w", s.path, err)
	}
	if tables > 0 {
		var v string
		err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE name='tlsrpt_schema'").Scan(&v)
		if err != nil {
			return fmt.Errorf("tlsrpt store: %s is not a mailtls TLS reporting database: %w", s.path, err)
		}
		if v != schemaVersion {
			return fmt.Errorf("tlsrpt store: %s has schema version %q, this mailtls uses %s", s.path, v, schemaVersion)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("tlsrpt store: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("tlsrpt store: create schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta(name, value) VALUES ('tlsrpt_schema', ?)", schemaVersion); err != nil {
		return fmt.Errorf("tlsrpt store: create schema: %w", err)
	}
	return tx.Commit()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }
