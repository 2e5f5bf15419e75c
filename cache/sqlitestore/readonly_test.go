package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
	"time"
)

// Issue 11: the store tells its owner when its health changes, from its own writer (no
// one needs to ask Health): a failing flush, then the recovery.
func TestOnHealthReported(t *testing.T) {
	reports := make(chan error, 10)
	s := openT(t, tempDB(t), Options{FlushInterval: 10 * time.Millisecond, OnHealth: func(err error) { reports <- err }})
	next := func() error {
		t.Helper()
		select {
		case err := <-reports:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("no health report")
			return nil
		}
	}
	setWritable(t, s, false)
	s.Put(entry("sts", "a.example", "a", time.Time{}))
	if err := next(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("report after a failed flush: %v, want ErrReadOnly", err)
	}
	setWritable(t, s, true)
	if err := next(); err != nil {
		t.Fatalf("report after recovery: %v, want nil", err)
	}
	select {
	case err := <-reports:
		t.Fatalf("report without a change: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// Issue 11: OpenReadOnly serves an existing database and keeps writes pending, reporting
// ErrReadOnly; a missing file is an error.
func TestOpenReadOnly(t *testing.T) {
	path := tempDB(t)
	s := openT(t, path, manual())
	s.Put(entry("sts", "known.example", "policy", time.Time{}))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, ok := mustGet(t, ro, "sts", "known.example"); !ok || v != "policy" {
		t.Fatalf("known entry: %q, %v", v, ok)
	}
	ro.Put(entry("sts", "new.example", "x", time.Time{}))
	if err := ro.Flush(context.Background()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("flush: %v, want ErrReadOnly", err)
	}
	if _, err := OpenReadOnly(path+".missing", manual()); err == nil {
		t.Error("OpenReadOnly of a missing file succeeded")
	}
}

func TestIsReadOnlyMedium(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("create x: %w", syscall.EROFS), true},
		{fmt.Errorf("create x: %w", fs.ErrPermission), true},
		{fmt.Errorf("%w: x", ErrReadOnly), true},
		{fmt.Errorf("%w: x", ErrCorrupt), false},
		{fmt.Errorf("create x: %w", syscall.ENOSPC), false},
	} {
		if got := IsReadOnlyMedium(tc.err); got != tc.want {
			t.Errorf("IsReadOnlyMedium(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
