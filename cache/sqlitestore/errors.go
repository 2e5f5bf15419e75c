package sqlitestore

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors a caller can test for with errors.Is. Errors from Open and Health wrap
// one of these together with the underlying SQLite error.
var (
	// ErrCorrupt: the file is not an SQLite database, or fails its integrity check.
	ErrCorrupt = errors.New("sqlitestore: database file is corrupt or not an SQLite database")
	// ErrForeign: the file is a valid SQLite database, but not a mailtls cache.
	ErrForeign = errors.New("sqlitestore: database is not a mailtls cache")
	// ErrSchemaVersion: the cache was written by a mailtls with another schema.
	ErrSchemaVersion = errors.New("sqlitestore: unsupported cache schema version")
	// ErrReadOnly: SQLite refused a write (read-only file, directory or mount).
	ErrReadOnly = errors.New("sqlitestore: database is read-only")
	// ErrFull: the disk or file system is full.
	ErrFull = errors.New("sqlitestore: disk full")
	// ErrPendingOverflow: more than MaxPending writes were waiting, and the
	// oldest were dropped (they remain in the engine's memory only).
	ErrPendingOverflow = errors.New("sqlitestore: pending writes over the limit, oldest dropped")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("sqlitestore: store closed")
)

// sqliteCode returns the primary SQLite result code inside err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff // extended result codes are on; keep the primary code
	}
	return 0
}

// classify returns the sentinel matching an SQLite failure, or nil.
func classify(err error) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_READONLY:
		return ErrReadOnly
	case sqlite3.SQLITE_FULL:
		return ErrFull
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return ErrCorrupt
	}
	return nil
}
