package sqlitedb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func schema(version string) Schema {
	return Schema{What: "test store", Kind: "a test database", Version: version, BusyTimeout: time.Second,
		SQL:        "CREATE TABLE IF NOT EXISTS stamp (name TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE IF NOT EXISTS t (k TEXT);",
		StampTable: "stamp", StampName: "test_schema"}
}

// A new file is created 0600 and stamped; reopening it with the same version works, with
// another version or as another kind of database it is refused and left as it was.
func TestOpenStampsAndRefuses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "db.sqlite")
	db, abs, err := Open(p, schema("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if fi, err := os.Stat(abs); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file %s: %v %v, want mode 0600", abs, fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v %v, want mode 0700", fi, err)
	}
	db, _, err = Open(p, schema("1"))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var k string
	if err := db.QueryRow("SELECT k FROM t").Scan(&k); err != nil || k != "kept" {
		t.Fatalf("row after reopen: %q %v", k, err)
	}
	db.Close()
	if _, _, err := Open(p, schema("2")); err == nil || !strings.Contains(err.Error(), `has schema version "1", this mailtls uses 2`) {
		t.Fatalf("other version: %v", err)
	}
	other := schema("1")
	other.StampTable, other.Kind = "other_stamp", "another kind"
	if _, _, err := Open(p, other); err == nil || !strings.Contains(err.Error(), "is not another kind") {
		t.Fatalf("other kind: %v", err)
	}
	if _, _, err := Open("", schema("1")); err == nil || !strings.Contains(err.Error(), "test store: empty database path") {
		t.Fatalf("empty path: %v", err)
	}
}
