package store

import (
	"database/sql"
	"time"

	"github.com/mailtls/mailtls/internal/sqlitedb"
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
	db, abs, err := sqlitedb.Open(path, sqlitedb.Schema{What: "tlsrpt store", Kind: "a mailtls TLS reporting database", SQL: schemaSQL,
		StampTable: "meta", StampName: "tlsrpt_schema", Version: schemaVersion, BusyTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return &Store{db: db, path: abs}, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }
