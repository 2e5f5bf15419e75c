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
// migration in migrate, when the tables change. Version 2 added the sum
// column (checksum.go); version 1 files are migrated on open.
const schemaVersion = 2

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
	sum     INTEGER,          -- CRC-32C of the row (checksum); NULL fails the check
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
	w, err := sql.Open("sqlite", opts.dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	// One writer connection: the flush is the only writer, and SQLite takes
	// one write lock at a time anyway.
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	legacy, err := initDB(ctx, w, abs, opts.readOnly)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", opts.dsn(abs, true))
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
	return newStore(abs, opts, w, r, legacy), nil
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
// of a known schema version, creating the schema in an empty file and
// migrating an older one. legacy reports a version-1 file opened read-only,
// which cannot be migrated and has no checksums.
func initDB(ctx context.Context, db *sql.DB, path string, readOnly bool) (legacy bool, err error) {
	if err := db.PingContext(ctx); err != nil {
		return false, openError(path, err)
	}
	// quick_check reads every page: garbage gives SQLITE_NOTADB, a truncated
	// or overwritten file a list of problems.
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		return false, openError(path, err)
	}
	if check != "ok" {
		return false, fmt.Errorf("%w: %s: integrity check: %s", ErrCorrupt, path, check)
	}

	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables); err != nil {
		return false, openError(path, err)
	}
	if tables == 0 {
		if readOnly {
			return false, fmt.Errorf("%w: %s: empty database opened read-only", ErrReadOnly, path)
		}
		if err := setWAL(ctx, db, path); err != nil {
			return false, err
		}
		return false, createSchema(ctx, db, path)
	}

	var hasMeta int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'entries')").Scan(&hasMeta); err != nil {
		return false, openError(path, err)
	}
	if hasMeta != 2 {
		return false, fmt.Errorf("%w: %s has other tables and no mailtls schema", ErrForeign, path)
	}
	var v string
	err = db.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = 'schema_version'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("%w: %s has no schema version", ErrForeign, path)
	}
	if err != nil {
		return false, openError(path, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > schemaVersion {
		return false, fmt.Errorf("%w: %s has version %q, this mailtls uses %d", ErrSchemaVersion, path, v, schemaVersion)
	}
	if readOnly {
		return n == 1, nil
	}
	if err := setWAL(ctx, db, path); err != nil {
		return false, err
	}
	if n == 1 {
		return false, migrateChecksums(ctx, db, path)
	}
	return false, nil
}

// migrateChecksums brings a version-1 file to version 2: it adds the sum column and
// computes every row's checksum, in one transaction. The rows are trusted once, as
// version 1 trusted them on every read; from then on each read is checked.
func migrateChecksums(ctx context.Context, db *sql.DB, path string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return openError(path, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "ALTER TABLE entries ADD COLUMN sum INTEGER"); err != nil {
		return openError(path, err)
	}
	up, err := tx.PrepareContext(ctx, "UPDATE entries SET sum = ? WHERE rowid = ?")
	if err != nil {
		return openError(path, err)
	}
	type row struct{ id, sum int64 }
	for last := int64(-1 << 63); ; {
		rows, err := tx.QueryContext(ctx, "SELECT rowid, kind, key, value, expires, updated FROM entries WHERE rowid > ? ORDER BY rowid LIMIT 1000", last)
		if err != nil {
			return openError(path, err)
		}
		var batch []row
		for rows.Next() {
			var id, expires, updated int64
			var kind, key string
			var value []byte
			if err := rows.Scan(&id, &kind, &key, &value, &expires, &updated); err != nil {
				rows.Close()
				return openError(path, err)
			}
			batch = append(batch, row{id, checksum(kind, key, value, expires, updated)})
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return openError(path, err)
		}
		if len(batch) == 0 {
			break
		}
		for _, r := range batch {
			if _, err := up.ExecContext(ctx, r.sum, r.id); err != nil {
				return openError(path, err)
			}
		}
		last = batch[len(batch)-1].id
	}
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET value = ? WHERE name = 'schema_version'", strconv.Itoa(schemaVersion)); err != nil {
		return openError(path, err)
	}
	if err := tx.Commit(); err != nil {
		return openError(path, err)
	}
	return nil
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
