package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"
)

// flipInFile changes one byte of the first occurrence of marker in the closed database
// file at path, the way a bad disk or a stray write would.
func flipInFile(t *testing.T, path, marker string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		t.Fatalf("%q not found in %s", marker, path)
	}
	if bytes.Count(b, []byte(marker)) != 1 {
		t.Fatalf("%q found more than once in %s", marker, path)
	}
	b[i+at] ^= 0x20
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Issue 11: one flipped byte inside a stored value is caught by the row's
// checksum: Get reports the entry missing (the engine then looks the domain up afresh),
// Range leaves it out, the refusal is counted, and the other rows are served as before.
func TestStoreChecksumMismatch(t *testing.T) {
	never := time.Time{}
	tests := []struct {
		name   string
		marker string // unique bytes in the file to flip one of
		at     int
		broken string // key whose row is damaged
	}{
		{"a byte of the value", "mode:enforce-broken", 5, "broken.example"},
		{"the last byte of the value", "mode:enforce-broken", 18, "broken.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempDB(t)
			s, err := Open(path, manual())
			if err != nil {
				t.Fatal(err)
			}
			s.Put(entry("sts", "good.example", "mode:enforce-good", never))
			s.Put(entry("sts", "broken.example", "mode:enforce-broken", never))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			flipInFile(t, path, tt.marker, tt.at)

			s = openT(t, path, manual())
			got := collect(t, s, "")
			if _, ok := got["sts/good.example"]; !ok || len(got) != 1 {
				t.Errorf("Range after the flip: %v, want the intact row only", got)
			}
			if v, ok := mustGet(t, s, "sts", "good.example"); !ok || v != "mode:enforce-good" {
				t.Errorf("intact row: %q, %v", v, ok)
			}
			if v, ok := mustGet(t, s, "sts", tt.broken); ok {
				t.Errorf("damaged row served: %q", v)
			}
			if c := s.Stats().Corrupt; c < 1 {
				t.Errorf("Stats().Corrupt = %d, want the refusal counted", c)
			}
			// A fresh write replaces the damaged row and is served again.
			s.Put(entry("sts", "broken.example", "mode:enforce-again", never))
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if v, ok := mustGet(t, s, "sts", "broken.example"); !ok || v != "mode:enforce-again" {
				t.Errorf("rewritten row: %q, %v", v, ok)
			}
		})
	}
}

// A changed expiry time or key is caught too (both are covered by the checksum), so a
// corrupted row can neither extend its own life nor move to another domain; a row
// without a checksum is refused.
func TestStoreChecksumCoversExpiry(t *testing.T) {
	path := tempDB(t)
	s := openT(t, path, manual())
	s.Put(entry("sts", "e.example", "v", time.Unix(1900000000, 0)))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE entries SET expires = expires + 256 WHERE key = 'e.example'"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, s, "sts", "e.example"); ok {
		t.Error("row with a changed expiry served")
	}
	s.Put(entry("sts", "k.example", "v", time.Time{}))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE entries SET key = 'j.example' WHERE key = 'k.example'"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, s, "sts", "j.example"); ok {
		t.Error("row moved to another key served")
	}
	if _, err := db.Exec("UPDATE entries SET sum = NULL WHERE key = 'e.example'"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, s, "sts", "e.example"); ok {
		t.Error("row without a checksum served")
	}
	if c := s.Stats().Corrupt; c != 3 {
		t.Errorf("Stats().Corrupt = %d, want 3", c)
	}
}

// A version-1 file (no checksums) is migrated when opened for writing: its rows are
// trusted once and get their checksums, the file says version 2, and from then on a
// flipped byte is caught. Opened read-only it cannot be migrated and is served unverified.
func TestOpenMigratesVersion1(t *testing.T) {
	path := tempDB(t)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	const v1 = `CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX entries_expires ON entries (expires) WHERE expires > 0;
INSERT INTO meta VALUES ('schema_version', '1');`
	if _, err := db.Exec(v1); err != nil {
		t.Fatal(err)
	}
	for i := range 2500 { // more than one migration batch
		if _, err := db.Exec("INSERT INTO entries VALUES ('sts', ?, ?, 0, 1700000000)", "d"+strconv.Itoa(i)+".example", "value-"+strconv.Itoa(i)+"-x"); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	ro := openT(t, path, Options{FlushInterval: time.Hour, readOnly: true})
	if v, ok := mustGet(t, ro, "sts", "d7.example"); !ok || v != "value-7-x" {
		t.Errorf("version-1 file read-only: %q, %v; want served unverified", v, ok)
	}
	ro.Close()

	s, err := Open(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(collect(t, s, "sts")); got != 2500 || s.Stats().Corrupt != 0 {
		t.Errorf("after migration: %d rows, %d refused; want 2500, 0", got, s.Stats().Corrupt)
	}
	var version string
	if err := s.r.QueryRow("SELECT value FROM meta WHERE name = 'schema_version'").Scan(&version); err != nil || version != "2" {
		t.Errorf("schema version after migration: %q, %v", version, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	flipInFile(t, path, "value-1234-x", 7)
	s = openT(t, path, manual())
	if _, ok := mustGet(t, s, "sts", "d1234.example"); ok || s.Stats().Corrupt != 1 {
		t.Errorf("flipped byte after migration: served=%v, refused=%d", ok, s.Stats().Corrupt)
	}
}

// Issue 11: the writer sweeps expired entries on its own schedule (SweepInterval, against
// the Now clock), not only when a caller calls Sweep.
func TestStoreScheduledSweep(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := openT(t, tempDB(t), Options{FlushInterval: time.Hour, SweepInterval: 20 * time.Millisecond, Now: func() time.Time { return now }})
	s.Put(entry("sts", "expired.example", "v", now.Add(-time.Minute)))
	s.Put(entry("dane", "expired.example", "v", now.Add(-time.Second)))
	s.Put(entry("sts", "live.example", "v", now.Add(time.Minute)))
	s.Put(entry("sts", "never.example", "v", time.Time{}))
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().Swept < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled sweep: %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := collect(t, s, "")
	if len(got) != 2 || got["sts/live.example"] == "" || got["sts/never.example"] == "" {
		t.Errorf("after the scheduled sweep: %v, want the live and never-expiring entries only", got)
	}
}
