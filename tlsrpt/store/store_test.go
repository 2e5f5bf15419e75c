package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenRefusesForeignFiles: a database that is not a TLS reporting store is refused
// and left untouched; a store reopens with its data.
func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec("CREATE TABLE x (a)")
	db.Close()
	if _, err := Open(foreign); err == nil || !strings.Contains(err.Error(), "not a mailtls TLS reporting database") {
		t.Fatalf("foreign: %v", err)
	}
	path := filepath.Join(dir, "tlsrpt.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	g := Group{Day: "2026-11-30", Domain: "a.example", Record: "v=TLSRPTv1; rua=mailto:x@a.example", Policy: "{}"}
	b.Sessions[g] = &Counts{OK: 2, Failed: 1}
	b.Failures[DetailKey{Group: g, Detail: "{}"}] = 1
	ctx := context.Background()
	for range 2 { // counts add up
		if _, err := st.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	days, err := st.Day(ctx, "2026-11-30")
	if err != nil || len(days) != 1 || days[0].Policies[0].Counts != (Counts{OK: 4, Failed: 2}) || days[0].Policies[0].Details[0].N != 2 {
		t.Fatalf("%+v %v", days, err)
	}
	if _, err := st.Report(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown report: %v", err)
	}
	// Pruning drops counts of days before the cutoff.
	if _, err := st.Prune(ctx, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if days, _ := st.Day(ctx, "2026-11-30"); len(days) != 0 {
		t.Errorf("not pruned: %+v", days)
	}
}
