package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// schemaVersion is the layout written by this code. Bump it, and add a
// migration in migrate, when the tables change.
const schemaVersion = 1

const schemaSQL = `
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE entries (
	kind    TEXT NOT NULL,
	key     TEXT NOT NULL,
	value   BLOB NOT NULL,
	expires INTEGER NOT NULL, -- Unix seconds, 0 = never
	updated INTEGER NOT NULL, -- Unix seconds
	PRIMARY KEY (kind, key)
);
CREATE INDEX entries_expires ON entries (expires) WHERE expires > 0;
`

// Open opens the cache database at path, creating it (mode 0600) and its
// parent directory (mode 0700) when missing, and starts the writer. The
// database uses a WAL journal and a busy timeout, and carries its schema
// version in the meta table.
//
// A file that is not an SQLite database, or fails SQLite's quick integrity
// check (e.g. truncated), gives an error wrapping ErrCorrupt; a valid database
// that is not a mailtls cache gives ErrForeign; a cache of another schema
// version gives ErrSchemaVersion. Open never modifies such files.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if path == "" {
		return nil, errors.New("sqlitestore: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: database path %q: %w", path, err)
	}
	if err := prepareFile(abs, opts.readOnly); err != nil {
		return nil, err
	}

	ctx := context.Background()
	w, err := sql.Open("sqlite", dsn(abs, opts.readOnly, false))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	// One writer connection: the flush is the only writer, and SQLite takes
	// one write lock at a time anyway.
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	if err := initDB(ctx, w, abs, opts.readOnly); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(abs, opts.readOnly, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s for reading: %w", abs, err)
	}
	r.SetMaxOpenConns(readerConns)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s for reading: %w", abs, err)
	}
	return newStore(abs, opts, w, r), nil
}

// prepareFile creates the parent directory and an empty database file with
// restrictive modes, so that SQLite (which would use 0644) never creates them.
// The WAL and shared-memory files SQLite creates later copy the database
// file's mode.
func prepareFile(path string, readOnly bool) error {
	if readOnly {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlitestore: create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlitestore: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlitestore: create %s: %w", path, err)
	}
	return nil
}

// dsn builds the driver's connection string: a file: URI (so that any
// character in path is escaped) with the pragmas every connection needs.
func dsn(path string, readOnly, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(busyTimeoutMillis)+")")
	q.Add("_pragma", "synchronous(NORMAL)") // with WAL: durable across crashes of the process, not of the machine
	if readOnly {
		q.Set("mode", "ro")
	} else if !reader {
		q.Set("_txlock", "immediate") // take the write lock at BEGIN: no upgrade deadlocks
	}
	if reader {
		q.Set("_query_only", "1")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// initDB checks that the file is a sound SQLite database and a mailtls cache
// of a known schema version, creating the schema in an empty file.
func initDB(ctx context.Context, db *sql.DB, path string, readOnly bool) error {
	if err := db.PingContext(ctx); err != nil {
		return openError(path, err)
	}
	// quick_check reads every page: garbage gives SQLITE_NOTADB, a truncated
	// or overwritten file a list of problems.
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		return openError(path, err)
	}
	if check != "ok" {
		return fmt.Errorf("%w: %s: integrity check: %s", ErrCorrupt, path, check)
	}

	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables); err != nil {
		return openError(path, err)
	}
	if tables == 0 {
		if readOnly {
			return fmt.Errorf("%w: %s: empty database opened read-only", ErrReadOnly, path)
		}
		if err := setWAL(ctx, db, path); err != nil {
			return err
		}
		return createSchema(ctx, db, path)
	}

	var hasMeta int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'entries')").Scan(&hasMeta); err != nil {
		return openError(path, err)
	}
	if hasMeta != 2 {
		return fmt.Errorf("%w: %s has other tables and no mailtls schema", ErrForeign, path)
	}
	var v string
	err := db.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = 'schema_version'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s has no schema version", ErrForeign, path)
	}
	if err != nil {
		return openError(path, err)
	}
	if n, err := strconv.Atoi(v); err != nil || n != schemaVersion {
		return fmt.Errorf("%w: %s has version %q, this mailtls uses %d", ErrSchemaVersion, path, v, schemaVersion)
	}
	if readOnly {
		return nil
	}
	return setWAL(ctx, db, path)
}

// setWAL switches the file to the write-ahead log, which lets readers run
// during a flush and makes each flush one append. The setting is stored in
// the file, so it is applied only once the file is known to be a mailtls
// cache (Open must not alter a file it rejects).
func setWAL(ctx context.Context, db *sql.DB, path string) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return openError(path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlitestore: %s: cannot use the WAL journal (journal_mode is %q)", path, mode)
	}
	return nil
}

func createSchema(ctx context.Context, db *sql.DB, path string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return openError(path, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return openError(path, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta (name, value) VALUES ('schema_version', ?)", strconv.Itoa(schemaVersion)); err != nil {
		return openError(path, err)
	}
	if err := tx.Commit(); err != nil {
		return openError(path, err)
	}
	return nil
}

// openError wraps an SQLite failure during Open with the path and, where it
// applies, ErrCorrupt, ErrReadOnly or ErrFull.
func openError(path string, err error) error {
	if s := classify(err); s != nil {
		return fmt.Errorf("%w: %s: %w", s, path, err)
	}
	return fmt.Errorf("sqlitestore: open %s: %w", path, err)
}
