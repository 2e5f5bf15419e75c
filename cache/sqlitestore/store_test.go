package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache"
)

// Every case runs twice: with the operations still pending, and after a
// flush. Reads must give the same answer either way (write-behind is
// invisible to readers).
func TestStoreReadsSeeLatestWrite(t *testing.T) {
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		ops  func(s *Store)
		want map[string]string // kind/key → value, the whole content
	}{
		{"put is readable", func(s *Store) {
			s.Put(entry("sts", "example.com", "p1", future))
		}, map[string]string{"sts/example.com": "p1"}},
		{"later put replaces (policy id change, RFC 8461 §5.1)", func(s *Store) {
			s.Put(entry("sts", "example.com", "p1", future))
			s.Put(entry("sts", "example.com", "p2", future))
		}, map[string]string{"sts/example.com": "p2"}},
		{"kinds are separate namespaces", func(s *Store) {
			s.Put(entry("sts", "example.com", "sts-value", future))
			s.Put(entry("dane", "example.com", "dane-value", future))
		}, map[string]string{"sts/example.com": "sts-value", "dane/example.com": "dane-value"}},
		{"delete removes", func(s *Store) {
			s.Put(entry("sts", "example.com", "p1", future))
			s.Put(entry("sts", "example.net", "p2", future))
			s.Delete("sts", "example.com")
		}, map[string]string{"sts/example.net": "p2"}},
		{"put after delete restores", func(s *Store) {
			s.Put(entry("sts", "example.com", "p1", future))
			s.Delete("sts", "example.com")
			s.Put(entry("sts", "example.com", "p3", future))
		}, map[string]string{"sts/example.com": "p3"}},
		{"delete of a missing key is harmless", func(s *Store) {
			s.Delete("sts", "missing.example")
		}, map[string]string{}},
		{"empty value is stored", func(s *Store) {
			s.Put(cache.Entry{Kind: "neg", Key: "example.org"})
		}, map[string]string{"neg/example.org": ""}},
	}
	for _, tc := range tests {
		for _, flushed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/flushed=%v", tc.name, flushed), func(t *testing.T) {
				s := openT(t, tempDB(t), manual())
				tc.ops(s)
				if flushed {
					if err := s.Flush(context.Background()); err != nil {
						t.Fatal(err)
					}
					if p := s.Stats().Pending; p != 0 {
						t.Errorf("after Flush %d operations still pending", p)
					}
				}
				if got := collect(t, s, ""); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Range(all) = %v, want %v", got, tc.want)
				}
				for kk, v := range tc.want {
					kind, key, _ := cut(kk)
					if got, ok := mustGet(t, s, kind, key); !ok || got != v {
						t.Errorf("Get(%s) = %q, %v; want %q", kk, got, ok, v)
					}
				}
				if _, ok := mustGet(t, s, "sts", "missing.example"); ok {
					t.Error("Get of a never-written key found something")
				}
			})
		}
	}
}

func cut(kk string) (string, string, bool) {
	for i := range kk {
		if kk[i] == '/' {
			return kk[:i], kk[i+1:], true
		}
	}
	return kk, "", false
}

// A delete pending over a stored row hides it from Get and Range, and a put
// pending over a stored row replaces it, before any flush.
func TestStorePendingOverStored(t *testing.T) {
	s := openT(t, tempDB(t), manual())
	s.Put(entry("sts", "a.example", "stored-a", time.Time{}))
	s.Put(entry("sts", "b.example", "stored-b", time.Time{}))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Delete("sts", "a.example")
	s.Put(entry("sts", "b.example", "pending-b", time.Time{}))
	if _, ok := mustGet(t, s, "sts", "a.example"); ok {
		t.Error("pending delete: stored row still returned by Get")
	}
	if v, _ := mustGet(t, s, "sts", "b.example"); v != "pending-b" {
		t.Errorf("pending put: Get = %q, want pending-b", v)
	}
	want := map[string]string{"sts/b.example": "pending-b"}
	if got := collect(t, s, "sts"); !reflect.DeepEqual(got, want) {
		t.Errorf("Range = %v, want %v", got, want)
	}
}

func TestStoreRangeKindAndStop(t *testing.T) {
	s := openT(t, tempDB(t), manual())
	for i := 0; i < 10; i++ {
		s.Put(entry("sts", fmt.Sprintf("d%d.example", i), "s", time.Time{}))
		s.Put(entry("dane", fmt.Sprintf("d%d.example", i), "d", time.Time{}))
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 15; i++ { // some pending as well
		s.Put(entry("sts", fmt.Sprintf("d%d.example", i), "s", time.Time{}))
	}
	tests := []struct {
		kind string
		want int
	}{{"sts", 15}, {"dane", 10}, {"", 25}, {"none", 0}}
	for _, tc := range tests {
		got := collect(t, s, tc.kind)
		if len(got) != tc.want {
			t.Errorf("Range(%q) gave %d entries, want %d", tc.kind, len(got), tc.want)
		}
		for k := range got {
			if kind, _, _ := cut(k); tc.kind != "" && kind != tc.kind {
				t.Errorf("Range(%q) gave %s", tc.kind, k)
			}
		}
	}
	for _, stopAt := range []int{1, 12} { // in the stored rows, in the pending overlay
		n := 0
		if err := s.Range(context.Background(), "sts", func(cache.Entry) bool { n++; return n < stopAt }); err != nil {
			t.Fatal(err)
		}
		if n != stopAt {
			t.Errorf("Range went on after fn returned false: %d calls, want %d", n, stopAt)
		}
	}
}

// Entries survive Close and a second Open (the restarted daemon serves known
// policies at once), with their times at one-second precision.
func TestStoreReopenPersists(t *testing.T) {
	path := tempDB(t)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("x", 3600))
	s, err := Open(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	put := cache.Entry{Kind: "sts", Key: "example.com", Value: []byte(`{"id":"20240101"}`), Expires: exp, Updated: exp.Add(-time.Hour)}
	s.Put(put)
	s.Put(entry("dane", "example.net", "d", time.Time{}))
	s.Put(entry("sts", "gone.example", "x", time.Time{}))
	s.Delete("sts", "gone.example")
	before, _, _ := s.Get(context.Background(), "sts", "example.com")
	if err := s.Close(); err != nil { // Close flushes; no explicit Flush here
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s2 := openT(t, path, manual())
	got, ok, err := s2.Get(context.Background(), "sts", "example.com")
	if err != nil || !ok {
		t.Fatalf("after reopen: Get = %v, %v", ok, err)
	}
	want := put
	want.Expires = time.Unix(exp.Unix(), 0).UTC()
	want.Updated = time.Unix(exp.Add(-time.Hour).Unix(), 0).UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after reopen: %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(before, want) {
		t.Errorf("pending entry read before the flush differs from the stored one: %+v vs %+v", before, want)
	}
	if e, ok, _ := s2.Get(context.Background(), "dane", "example.net"); !ok || !e.Expires.IsZero() {
		t.Errorf("zero Expires does not round-trip: %v %v", e.Expires, ok)
	}
	if _, ok := mustGet(t, s2, "sts", "gone.example"); ok {
		t.Error("deleted entry came back after reopen")
	}
}

// Paths with characters that mean something in a file: URI still name the
// file itself.
func TestStoreOddPaths(t *testing.T) {
	for _, name := range []string{"with space.db", "q?mode=ro.db", "hash#frag.db", "pct%41.db", "ünï.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s, err := Open(path, manual())
			if err != nil {
				t.Fatal(err)
			}
			s.Put(entry("sts", "example.com", "v", time.Time{}))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files, _ := os.ReadDir(dir)
			if len(files) != 1 || files[0].Name() != name {
				var names []string
				for _, f := range files {
					names = append(names, f.Name())
				}
				t.Fatalf("directory holds %q, want only %q", names, name)
			}
			s2 := openT(t, path, manual())
			if _, ok := mustGet(t, s2, "sts", "example.com"); !ok {
				t.Error("entry lost on reopen")
			}
		})
	}
}

// Operations on a closed store fail with ErrClosed (reads) or are ignored (writes).
func TestStoreClosed(t *testing.T) {
	s, err := Open(tempDB(t), manual())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Put(entry("sts", "example.com", "x", time.Time{})) // must not panic
	s.Delete("sts", "example.com")
	if _, _, err := s.Get(context.Background(), "sts", "example.com"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := s.Range(context.Background(), "", func(cache.Entry) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Errorf("Range after Close: %v, want ErrClosed", err)
	}
	if err := s.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Sweep(context.Background(), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("Sweep after Close: %v, want ErrClosed", err)
	}
}

// Sweep deletes entries whose Expires has passed, keeps the others and the
// ones without Expires, and includes writes that were still pending.
func TestStoreSweep(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := openT(t, tempDB(t), manual())
	tests := []struct {
		key     string
		expires time.Time
		kept    bool
	}{
		{"past.example", now.Add(-time.Hour), false},
		{"just-past.example", now.Add(-time.Second), false},
		{"now.example", now, true}, // useless only *after* Expires
		{"future.example", now.Add(time.Hour), true},
		{"never.example", time.Time{}, true},
	}
	for i, tc := range tests {
		s.Put(entry("sts", tc.key, "v", tc.expires))
		if i == 1 {
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := s.Sweep(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Sweep deleted %d, want 2", n)
	}
	for _, tc := range tests {
		if _, ok := mustGet(t, s, "sts", tc.key); ok != tc.kept {
			t.Errorf("%s (expires %v): present=%v, want %v", tc.key, tc.expires, ok, tc.kept)
		}
	}
	if n, _ := s.Sweep(context.Background(), now); n != 0 {
		t.Errorf("second Sweep deleted %d, want 0", n)
	}
}

// The file is created 0600 in a 0700 directory: it holds which domains this
// host sends mail to.
func TestStoreFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "mailtls")
	path := filepath.Join(dir, "cache.db")
	s := openT(t, path, manual())
	s.Put(entry("sts", "example.com", "v", time.Time{}))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700 | os.ModeDir}, {path, 0o600}, {path + "-wal", 0o600}} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.want)
		}
	}
}

// The writer goroutine flushes on its own every FlushInterval.
func TestStoreBackgroundFlush(t *testing.T) {
	s := openT(t, tempDB(t), Options{FlushInterval: 10 * time.Millisecond})
	s.Put(entry("sts", "example.com", "v", time.Time{}))
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Pending != 0 || s.Stats().LastFlush.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no background flush within 5 s at a 10 ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM entries").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in the database after the background flush: %d, %v", n, err)
	}
}

// Put never waits for a flush: with the flush lock held (a flush stuck on a
// slow disk), Put and Get still return.
func TestStorePutDoesNotBlockOnFlush(t *testing.T) {
	s := openT(t, tempDB(t), manual())
	s.flushMu.Lock()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			s.Put(entry("sts", fmt.Sprintf("d%d.example", i), "v", time.Time{}))
		}
		if _, ok := mustGet(t, s, "sts", "d999.example"); !ok {
			t.Error("pending entry not visible")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("Put/Get blocked while a flush was in progress")
	}
	s.flushMu.Unlock()
	<-done
}

// Readers, writers, flushes and ranges at once (run with -race). Each writer
// owns its keys, so it must always read back its own latest write, whether
// pending, in flight or committed.
func TestStoreConcurrent(t *testing.T) {
	s := openT(t, tempDB(t), Options{FlushInterval: time.Millisecond})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				key := fmt.Sprintf("g%d-k%d.example", g, i%20)
				val := fmt.Sprintf("v%d", i)
				if i%7 == 0 {
					s.Delete("sts", key)
					if _, ok, err := s.Get(ctx, "sts", key); ok || err != nil {
						t.Errorf("%s: deleted entry visible (%v, %v)", key, ok, err)
						return
					}
					continue
				}
				s.Put(entry("sts", key, val, time.Time{}))
				e, ok, err := s.Get(ctx, "sts", key)
				if err != nil || !ok || string(e.Value) != val {
					t.Errorf("%s: read back %q, %v, %v; want %q", key, e.Value, ok, err, val)
					return
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if err := s.Range(ctx, "", func(cache.Entry) bool { return true }); err != nil {
				t.Errorf("Range during writes: %v", err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Errorf("Flush during writes: %v", err)
			}
		}
	}()
	wg.Wait()
	if err := s.Health(); err != nil {
		t.Errorf("Health: %v", err)
	}
	// Committed, every key holds its writer's last operation: the value of its last Put, or
	// nothing when the last operation was a Delete.
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("final Flush: %v", err)
	}
	got := collect(t, s, "sts")
	want := map[string]string{}
	for g := 0; g < 4; g++ {
		for k := 0; k < 20; k++ {
			last := 280 + k // the last i with i%20 == k
			if last%7 != 0 {
				want[fmt.Sprintf("sts/g%d-k%d.example", g, k)] = fmt.Sprintf("v%d", last)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d entries committed, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: committed %q, want %q", k, got[k], v)
		}
	}
}

// Range reports every entry exactly once while flushes move entries from the
// pending set to the database under it.
func TestStoreRangeDuringFlushes(t *testing.T) {
	s := openT(t, tempDB(t), manual())
	ctx := context.Background()
	const n = 300
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Flush(ctx)
			}
		}
	}()
	for round := 0; round < 8; round++ {
		for i := 0; i < n; i++ {
			s.Put(entry("sts", fmt.Sprintf("r%d-%d.example", round, i), "v", time.Time{}))
		}
		got := collect(t, s, "sts")
		if len(got) != n*(round+1) {
			t.Errorf("round %d: Range saw %d entries, want %d", round, len(got), n*(round+1))
		}
	}
	close(stop)
	wg.Wait()
}
