// Package sqlitedb opens the SQLite files in which mailtls's roles keep relational data
// (the TLS reports it sends, the reports it receives): one file per role, created with
// mode 0600 in a 0700 directory, in WAL mode with foreign keys on and one connection,
// stamped with the role's kind and schema version in a table of the role's own, so that
// a file of another kind or version is refused and left untouched.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Schema describes a role's database.
type Schema struct {
	What        string        // the role, as errors name it ("tlsrpt store")
	Kind        string        // what a file of this role is ("a mailtls TLS reporting database")
	SQL         string        // CREATE … IF NOT EXISTS statements, the stamp table among them
	StampTable  string        // table of (name TEXT PRIMARY KEY, value TEXT) holding the stamp
	StampName   string        // the stamp's name in it
	Version     string        // the schema version this mailtls writes and reads
	BusyTimeout time.Duration // how long a statement waits for a lock held by another process
}

// Open opens the database at path, creating it with s.SQL when the file has no tables,
// and returns it with the absolute path.
func Open(path string, s Schema) (db *sql.DB, abs string, err error) {
	if path == "" {
		return nil, "", errors.New(s.What + ": empty database path")
	}
	if abs, err = filepath.Abs(path); err != nil {
		return nil, "", fmt.Errorf("%s: %w", s.What, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, "", fmt.Errorf("%s: %w", s.What, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", s.What, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", s.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	if db, err = sql.Open("sqlite", (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()); err != nil {
		return nil, "", fmt.Errorf("%s: open %s: %w", s.What, abs, err)
	}
	db.SetMaxOpenConns(1) // one writer; readers are few (the CLI, the role's own loops)
	if err := s.init(context.Background(), db, abs); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, abs, nil
}

// init checks the stamp of a file that has tables, or creates the schema and stamps it.
func (s Schema) init(ctx context.Context, db *sql.DB, path string) error {
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type='table'").Scan(&tables); err != nil {
		return fmt.Errorf("%s: %s: %w", s.What, path, err)
	}
	if tables > 0 {
		var v string
		if err := db.QueryRowContext(ctx, "SELECT value FROM "+s.StampTable+" WHERE name=?", s.StampName).Scan(&v); err != nil {
			return fmt.Errorf("%s: %s is not %s: %w", s.What, path, s.Kind, err)
		}
		if v != s.Version {
			return fmt.Errorf("%s: %s has schema version %q, this mailtls uses %s", s.What, path, v, s.Version)
		}
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", s.What, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
		return fmt.Errorf("%s: create schema: %w", s.What, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.StampTable+" (name, value) VALUES (?, ?)", s.StampName, s.Version); err != nil {
		return fmt.Errorf("%s: create schema: %w", s.What, err)
	}
	return tx.Commit()
}
