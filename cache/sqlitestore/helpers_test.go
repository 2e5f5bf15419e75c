package sqlitestore

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache"
)

// manual returns Options whose timer never fires during a test, so that the
// test decides when a flush happens.
func manual() Options { return Options{FlushInterval: time.Hour} }

func openT(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tempDB(t testing.TB) string {
	return filepath.Join(t.TempDir(), "cache.db")
}

func entry(kind, key, value string, expires time.Time) cache.Entry {
	return cache.Entry{Kind: kind, Key: key, Value: []byte(value), Expires: expires, Updated: time.Unix(1700000000, 0).UTC()}
}

// mustGet returns the value of kind/key, or "" when absent.
func mustGet(t testing.TB, s *Store, kind, key string) (string, bool) {
	t.Helper()
	e, ok, err := s.Get(context.Background(), kind, key)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", kind, key, err)
	}
	if ok && (e.Kind != kind || e.Key != key) {
		t.Fatalf("Get(%s, %s) returned entry for %s/%s", kind, key, e.Kind, e.Key)
	}
	return string(e.Value), ok
}

func collect(t testing.TB, s *Store, kind string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := s.Range(context.Background(), kind, func(e cache.Entry) bool {
		k := e.Kind + "/" + e.Key
		if _, dup := got[k]; dup {
			t.Errorf("Range reported %s twice", k)
		}
		got[k] = string(e.Value)
		return true
	})
	if err != nil {
		t.Fatalf("Range(%q): %v", kind, err)
	}
	return got
}

// setWritable makes the store's writer connection refuse (false) or accept
// (true) writes. SQLite then fails writes with SQLITE_READONLY exactly as for
// a read-only file or mount, which chmod cannot produce for root.
func setWritable(t testing.TB, s *Store, on bool) {
	t.Helper()
	v := "1"
	if on {
		v = "0"
	}
	if _, err := s.w.Exec("PRAGMA query_only = " + v); err != nil {
		t.Fatalf("query_only=%s: %v", v, err)
	}
}

// logCounter counts log records by level.
type logCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func newLogCounter() *logCounter { return &logCounter{counts: map[slog.Level]int{}} }

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.counts[r.Level]++
	c.mu.Unlock()
	return nil
}
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCounter) WithGroup(string) slog.Handler      { return c }
func (c *logCounter) count(l slog.Level) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[l]
}
