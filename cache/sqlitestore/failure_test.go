package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Files that are not a usable mailtls cache give a clear error from Open,
// never a panic, and are left untouched.
func TestOpenRejectsBadFiles(t *testing.T) {
	// A real cache with enough rows to span many pages, to truncate.
	goodPath := tempDB(t)
	g, err := Open(goodPath, manual())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		g.Put(entry("sts", fmt.Sprintf("d%d.example", i), string(bytes.Repeat([]byte("x"), 200)), time.Time{}))
	}
	if err := g.Close(); err != nil { // checkpoints the WAL into the main file
		t.Fatal(err)
	}
	good, err := os.ReadFile(goodPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) < 100000 {
		t.Fatalf("test database is only %d bytes", len(good))
	}

	foreign := func(t *testing.T, path string) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
			t.Fatal(err)
		}
	}
	otherVersion := func(t *testing.T, path string) {
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("UPDATE meta SET value = '99' WHERE name = 'schema_version'"); err != nil {
			t.Fatal(err)
		}
	}
	noVersion := func(t *testing.T, path string) {
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("DELETE FROM meta"); err != nil {
			t.Fatal(err)
		}
	}
	write := func(b []byte) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Zero the b-tree page of the entries table's leaves somewhere in the middle.
	damaged := bytes.Clone(good)
	for i := len(good) / 2; i < len(good)/2+8192 && i < len(good); i++ {
		damaged[i] = 0xA5
	}

	tests := []struct {
		name  string
		setup func(*testing.T, string)
		want  error
	}{
		{"garbage text", write(bytes.Repeat([]byte("this is not a database\n"), 500)), ErrCorrupt},
		{"garbage shorter than the SQLite header", write([]byte("garbage")), ErrCorrupt},
		{"random-looking binary", write(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x13}, 3000)), ErrCorrupt},
		{"truncated to half", write(good[:len(good)/2]), ErrCorrupt},
		{"truncated inside the header", write(good[:60]), ErrCorrupt},
		{"overwritten pages", write(damaged), ErrCorrupt},
		{"another application's SQLite database", foreign, ErrForeign},
		{"mailtls cache without a schema version", noVersion, ErrForeign},
		{"cache from a newer schema", otherVersion, ErrSchemaVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tempDB(t)
			tc.setup(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, manual())
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Open error %q does not wrap %q", err, tc.want)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(path)) {
				t.Errorf("Open error %q does not name the file", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("Open modified the file it rejected")
			}
		})
	}
}

// Paths that cannot hold a database fail in Open, with an error that names the path and
// the cause, and leave nothing behind. (A read-only directory cannot be simulated with
// chmod when the tests run as root; the read-only open mode stands for it: the file cannot
// be created.)
func TestOpenUnusablePaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		opts  Options
		cause error  // errors.Is, when set
		says  string // the error's text contains it
	}{
		{"empty path", "", manual(), nil, "empty database path"},
		{"parent is a regular file", filepath.Join(file, "cache.db"), manual(), syscall.ENOTDIR, "create directory for " + filepath.Join(file, "cache.db")},
		{"path is a directory", dir, manual(), syscall.EISDIR, "create " + dir},
		{"missing file on a read-only medium", filepath.Join(dir, "missing.db"), Options{FlushInterval: time.Hour, readOnly: true}, nil, "open " + filepath.Join(dir, "missing.db") + ": unable to open database file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("error %q does not wrap %v", err, tc.cause)
			}
		})
	}
	// Nothing was created: the directory holds the plain file alone.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "plain-file" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("failed opens left files behind: %v", names)
	}
}

// A database on a read-only medium: reads work, writes stay pending and
// visible, Health reports ErrReadOnly, nothing blocks or panics.
func TestStoreReadOnlyFile(t *testing.T) {
	path := tempDB(t)
	s, err := Open(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	s.Put(entry("sts", "stored.example", "old", time.Time{}))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	opts := manual()
	opts.readOnly = true
	ro, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	if v, ok := mustGet(t, ro, "sts", "stored.example"); !ok || v != "old" {
		t.Errorf("stored entry on a read-only database: %q, %v", v, ok)
	}
	if err := ro.Health(); err != nil {
		t.Errorf("Health before any write: %v", err)
	}
	ro.Put(entry("sts", "new.example", "new", time.Time{}))
	err = ro.Flush(context.Background())
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("Flush on a read-only database: %v, want ErrReadOnly", err)
	}
	if err := ro.Health(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Health: %v, want ErrReadOnly", err)
	}
	ro.Put(entry("sts", "newer.example", "newer", time.Time{})) // Put keeps working
	for _, k := range []string{"new.example", "newer.example"} {
		if _, ok := mustGet(t, ro, "sts", k); !ok {
			t.Errorf("pending %s not visible after failed flush", k)
		}
	}
	if got := collect(t, ro, "sts"); len(got) != 3 {
		t.Errorf("Range on read-only store: %v, want 3 entries", got)
	}
	if err := ro.Close(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Close with unwritable pending writes: %v, want ErrReadOnly", err)
	}
}

// A store whose database stops accepting writes after Open (the file or mount
// became read-only, the disk filled up) keeps the writes pending, reports the
// failure in Health, logs it once, and recovers at the first good flush.
func TestStoreFlushFailureAndRecovery(t *testing.T) {
	path := tempDB(t)
	logs := newLogCounter()
	opts := manual()
	opts.Logger = slog.New(logs)
	s := openT(t, path, opts)
	ctx := context.Background()

	setWritable(t, s, false)
	s.Put(entry("sts", "a.example", "a1", time.Time{}))
	for i := 0; i < 3; i++ {
		if err := s.Flush(ctx); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("flush %d: %v, want ErrReadOnly", i, err)
		}
	}
	if err := s.Health(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Health: %v, want ErrReadOnly", err)
	}
	if n := logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d error logs for 3 failures in one state, want 1", n)
	}
	if p := s.Stats().Pending; p != 1 {
		t.Errorf("pending after failed flushes: %d, want 1", p)
	}
	s.Put(entry("sts", "a.example", "a2", time.Time{})) // replaces the failed op
	s.Delete("sts", "b.example")
	if v, _ := mustGet(t, s, "sts", "a.example"); v != "a2" {
		t.Errorf("Get = %q, want a2", v)
	}

	setWritable(t, s, true)
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush after recovery: %v", err)
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health after recovery: %v", err)
	}
	if n := logs.count(slog.LevelInfo); n != 1 {
		t.Errorf("%d recovery logs, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, path, manual())
	if v, ok := mustGet(t, s2, "sts", "a.example"); v != "a2" || !ok {
		t.Errorf("after recovery and reopen: %q, %v; want a2", v, ok)
	}
}

// A flush cut short by its context keeps the writes and does not report the
// disk as unhealthy.
func TestStoreFlushContextCanceled(t *testing.T) {
	s := openT(t, tempDB(t), manual())
	s.Put(entry("sts", "a.example", "a", time.Time{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush with a canceled context succeeded")
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health after a canceled flush: %v", err)
	}
	if err := s.Flush(context.Background()); err != nil || s.Stats().Pending != 0 {
		t.Errorf("retry: %v, pending %d", err, s.Stats().Pending)
	}
	if _, ok := mustGet(t, s, "sts", "a.example"); !ok {
		t.Error("write lost by the canceled flush")
	}
}

// MaxPending bounds the write-behind set: beyond it Put drops the oldest
// pending write, counts it, and Health reports ErrPendingOverflow until a
// flush succeeds. Replacing a pending key does not count.
func TestStoreMaxPending(t *testing.T) {
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprintf("d%02d.example", i) }

	t.Run("put beyond the bound drops the oldest", func(t *testing.T) {
		path := tempDB(t)
		s := openT(t, path, Options{FlushInterval: time.Hour, MaxPending: 10})
		for i := 0; i < 15; i++ {
			s.Put(entry("sts", key(i), "v", time.Time{}))
			s.Put(entry("sts", key(i), "v2", time.Time{})) // a replacement is not a new write
		}
		st := s.Stats()
		if st.Pending != 10 || st.Dropped != 5 {
			t.Errorf("Stats = %+v, want 10 pending, 5 dropped", st)
		}
		if err := s.Health(); !errors.Is(err, ErrPendingOverflow) {
			t.Errorf("Health: %v, want ErrPendingOverflow", err)
		}
		for i := 0; i < 15; i++ {
			if _, ok := mustGet(t, s, "sts", key(i)); ok != (i >= 5) {
				t.Errorf("%s present=%v, want %v (oldest five dropped)", key(i), ok, i >= 5)
			}
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Health(); err != nil {
			t.Errorf("Health after a good flush: %v", err)
		}
		if got := collect(t, s, "sts"); len(got) != 10 {
			t.Errorf("stored %d entries, want 10", len(got))
		}
	})

	t.Run("failed flush keeps the newest within the bound", func(t *testing.T) {
		s := openT(t, tempDB(t), Options{FlushInterval: time.Hour, MaxPending: 3})
		setWritable(t, s, false)
		s.Put(entry("sts", "a.example", "a", time.Time{}))
		s.Put(entry("sts", "b.example", "b", time.Time{}))
		s.Put(entry("sts", "c.example", "c", time.Time{}))
		if err := s.Flush(ctx); err == nil {
			t.Fatal("flush succeeded on a read-only connection")
		}
		// Newer than the failed batch: b is replaced, d is new. Oldest is now a.
		s.Put(entry("sts", "b.example", "b2", time.Time{}))
		s.Put(entry("sts", "d.example", "d", time.Time{}))
		want := map[string]string{"sts/b.example": "b2", "sts/c.example": "c", "sts/d.example": "d"}
		got := collect(t, s, "sts")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pending after failure = %v, want %v", got, want)
		}
		err := s.Health()
		if !errors.Is(err, ErrReadOnly) || !errors.Is(err, ErrPendingOverflow) {
			t.Errorf("Health = %v, want ErrReadOnly and ErrPendingOverflow", err)
		}
		// The failed batch restored in front of newer writes, over the bound.
		if err := s.Flush(ctx); err == nil {
			t.Fatal("flush succeeded on a read-only connection")
		}
		if p := s.Stats().Pending; p > 3 {
			t.Errorf("pending %d exceeds MaxPending 3 after a failed flush", p)
		}
		setWritable(t, s, true)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, s, "sts"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stored after recovery = %v, want %v", got, want)
		}
	})
}

// Entries flushed by a store that was never closed (a crashed daemon: the
// data is committed in the WAL, not yet checkpointed into the main file) are
// read by the next Open.
func TestOpenUncheckpointedWAL(t *testing.T) {
	src := tempDB(t)
	s := openT(t, src, manual())
	s.Put(entry("sts", "example.com", "committed", time.Time{}))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Put(entry("sts", "pending.example", "never flushed", time.Time{}))
	wal, err := os.ReadFile(src + "-wal")
	if err != nil || len(wal) == 0 {
		t.Fatalf("no WAL content after a flush (%d bytes, %v)", len(wal), err)
	}
	main, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}

	// The crash: copy the files as they are, while s is still open; the
	// shared-memory index is not copied, as after a reboot.
	crashed := tempDB(t)
	if err := os.WriteFile(crashed, main, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	c := openT(t, crashed, manual())
	if v, ok := mustGet(t, c, "sts", "example.com"); !ok || v != "committed" {
		t.Errorf("committed entry after crash: %q, %v", v, ok)
	}
	if _, ok := mustGet(t, c, "sts", "pending.example"); ok {
		t.Error("an entry that was never flushed appeared after the crash")
	}

	// Without the WAL the entry is gone: it really lived only in the WAL.
	mainOnly := tempDB(t)
	if err := os.WriteFile(mainOnly, main, 0o600); err != nil {
		t.Fatal(err)
	}
	m := openT(t, mainOnly, manual())
	if _, ok := mustGet(t, m, "sts", "example.com"); ok {
		t.Error("entry found in the main file alone: the WAL test proves nothing")
	}
}

// A full disk (SQLite's SQLITE_FULL, produced here with max_page_count, as
// filling a real file system is not possible in a test) is reported as
// ErrFull; a change of failure kind is logged again, a repeat is not.
func TestStoreDiskFull(t *testing.T) {
	logs := newLogCounter()
	opts := manual()
	opts.Logger = slog.New(logs)
	s := openT(t, tempDB(t), opts)
	ctx := context.Background()

	setWritable(t, s, false)
	s.Put(entry("sts", "first.example", "v", time.Time{}))
	if err := s.Flush(ctx); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Flush: %v, want ErrReadOnly", err)
	}
	setWritable(t, s, true)

	var pages int
	if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		s.Put(entry("sts", fmt.Sprintf("d%d.example", i), string(bytes.Repeat([]byte("x"), 500)), time.Time{}))
	}
	for i := 0; i < 2; i++ {
		if err := s.Flush(ctx); !errors.Is(err, ErrFull) {
			t.Fatalf("Flush on a full database: %v, want ErrFull", err)
		}
	}
	if err := s.Health(); !errors.Is(err, ErrFull) || errors.Is(err, ErrReadOnly) {
		t.Errorf("Health = %v, want ErrFull only (the last error)", err)
	}
	if n := logs.count(slog.LevelError); n != 2 {
		t.Errorf("%d error logs (read-only, then full twice), want 2", n)
	}
	if _, ok := mustGet(t, s, "sts", "d199.example"); !ok {
		t.Error("pending entry not visible while the disk is full")
	}

	if _, err := s.w.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush after space was freed: %v", err)
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health after recovery: %v", err)
	}
	if got := collect(t, s, "sts"); len(got) != 201 {
		t.Errorf("stored %d entries after recovery, want 201", len(got))
	}
}
