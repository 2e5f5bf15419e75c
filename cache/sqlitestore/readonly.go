package sqlitestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	sqlite3 "modernc.org/sqlite/lib"
)

// OpenReadOnly opens an existing cache database for reading only, for a state directory
// that cannot be written (a read-only mount): the daemon then serves the policies it
// already knows instead of starting empty. Every write stays pending (bounded by
// MaxPending) and Health reports ErrReadOnly once a flush has failed. When SQLite cannot
// open the file read-only in its write-ahead-log mode (the WAL index cannot be created
// in a read-only directory), the file is opened as immutable: without locks or WAL, so
// transactions left in a WAL file by a crash are not seen.
func OpenReadOnly(path string, opts Options) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	opts.readOnly = true
	s, err := Open(path, opts)
	if err == nil || !cannotOpen(err) {
		return s, err
	}
	opts.immutable = true
	s, ierr := Open(path, opts)
	if ierr != nil {
		return nil, fmt.Errorf("%w (as immutable: %w)", err, ierr)
	}
	opts.withDefaults().Logger.Warn("cache: database opened as immutable (its WAL index cannot be created read-only): writes a crash left in the WAL file are not seen",
		"cache", path, "err", err)
	return s, nil
}

// cannotOpen reports SQLite's SQLITE_CANTOPEN (the WAL index of a read-only open).
func cannotOpen(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CANTOPEN }

// IsReadOnlyMedium reports whether err, from Open, means the file or its directory cannot
// be written (read-only mount, no write permission): OpenReadOnly may then still read it.
func IsReadOnlyMedium(err error) bool {
	return errors.Is(err, ErrReadOnly) || errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission)
}

// dsn is the connection string for these options (see dsn).
func (o Options) dsn(path string, reader bool) string {
	s := dsn(path, o.readOnly, reader)
	if o.readOnly && o.immutable {
		s += "&immutable=1"
	}
	return s
}

// reportHealth tells OnHealth when Health has changed between nil and an error since the
// last report (the writer goroutine calls it after each flush).
func (s *Store) reportHealth(last *bool) {
	if s.opts.OnHealth == nil {
		return
	}
	err := s.Health()
	if healthy := err == nil; healthy != *last {
		*last = healthy
		s.opts.OnHealth(err)
	}
}
