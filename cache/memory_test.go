package cache

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

func TestMemoryGetSetDelete(t *testing.T) {
	tests := []struct {
		name    string
		ops     func(m *Memory[int])
		key     string
		want    int
		wantOK  bool
		wantLen int
	}{
		{"empty store misses", func(m *Memory[int]) {}, "example.com", 0, false, 0},
		{"set then get", func(m *Memory[int]) { m.Set("example.com", 1) }, "example.com", 1, true, 1},
		{"later set replaces", func(m *Memory[int]) { m.Set("example.com", 1); m.Set("example.com", 2) }, "example.com", 2, true, 1},
		{"keys are exact (no case folding: callers pass A-labels, lower-case)", func(m *Memory[int]) { m.Set("example.com", 1) }, "Example.com", 0, false, 1},
		{"delete removes", func(m *Memory[int]) { m.Set("example.com", 1); m.Delete("example.com") }, "example.com", 0, false, 0},
		{"delete of a missing key is harmless", func(m *Memory[int]) { m.Set("a.example", 1); m.Delete("example.com") }, "a.example", 1, true, 1},
		{"empty key is a key", func(m *Memory[int]) { m.Set("", 7) }, "", 7, true, 1},
		{"set if absent stores a new key", func(m *Memory[int]) { m.SetIfAbsent("example.com", 3) }, "example.com", 3, true, 1},
		{"set if absent keeps the present value", func(m *Memory[int]) { m.Set("example.com", 1); m.SetIfAbsent("example.com", 3) }, "example.com", 1, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, max := range []int{0, 1, 3, 1000} {
				m := NewMemory[int](max)
				tc.ops(m)
				got, ok := m.Get(tc.key)
				if got != tc.want || ok != tc.wantOK {
					t.Errorf("max=%d: Get(%q) = %d, %v; want %d, %v", max, tc.key, got, ok, tc.want, tc.wantOK)
				}
				if m.Len() != tc.wantLen {
					t.Errorf("max=%d: Len = %d, want %d", max, m.Len(), tc.wantLen)
				}
			}
		})
	}
}

func TestMemorySetIfAbsentReports(t *testing.T) {
	m := NewMemory[int](0)
	if !m.SetIfAbsent("example.com", 1) {
		t.Error("first SetIfAbsent reported the key present")
	}
	if m.SetIfAbsent("example.com", 2) {
		t.Error("second SetIfAbsent reported storing")
	}
}

// SetIfAbsent keeps the bound and never evicts: once a shard is full it refuses, and
// every entry stored before is still there.
func TestMemorySetIfAbsentBound(t *testing.T) {
	for _, max := range []int{1, 3, 64, 100} {
		m := NewMemory[int](max)
		var stored []string
		for i := range 10 * max {
			k := strconv.Itoa(i)
			if m.SetIfAbsent(k, i) {
				stored = append(stored, k)
			}
			if m.Len() > max {
				t.Fatalf("max=%d: Len = %d after %d inserts", max, m.Len(), i+1)
			}
		}
		if m.Len() != len(stored) || len(stored) > max {
			t.Errorf("max=%d: Len = %d, %d reported stored", max, m.Len(), len(stored))
		}
		for _, k := range stored {
			if _, ok := m.Get(k); !ok {
				t.Errorf("max=%d: %s was stored and then evicted", max, k)
			}
		}
	}
}

func TestMemoryBound(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		insert int
	}{
		{"unbounded keeps everything", 0, 5000},
		{"bound of one", 1, 100},
		{"bound below the shard count", 10, 1000},
		{"bound not a multiple of the shard count", 100, 1000},
		{"bound equal to the shard count", shardCount, 1000},
		{"large bound", 1000, 10000},
		// Keys spread over the shards by a seeded hash and the bound is per shard (1000
		// over 64 shards: 15 or 16 each), so only as many keys as one shard holds are
		// sure to be kept whatever the seed.
		{"bound not reached", 1000, 1000 / shardCount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory[int](tc.max)
			for i := 0; i < tc.insert; i++ {
				m.Set("d"+strconv.Itoa(i)+".example", i)
				if tc.max > 0 && m.Len() > tc.max {
					t.Fatalf("after %d inserts Len = %d exceeds bound %d", i+1, m.Len(), tc.max)
				}
			}
			want := tc.insert
			if tc.max > 0 && want > tc.max {
				want = tc.max
			}
			// Every shard fills up before evicting, and with many more keys than
			// the bound every shard receives keys, so the store ends up full.
			if m.Len() != want {
				t.Errorf("Len = %d, want %d", m.Len(), want)
			}
			// What Range reports matches Len and Get.
			seen := 0
			m.Range(func(k string, v int) bool {
				seen++
				if got, ok := m.Get(k); !ok || got != v {
					t.Errorf("Range gave %q=%d but Get = %d, %v", k, v, got, ok)
				}
				if k != "d"+strconv.Itoa(v)+".example" {
					t.Errorf("Range gave %q=%d: key and value do not belong together", k, v)
				}
				return true
			})
			if seen != want {
				t.Errorf("Range visited %d entries, want %d", seen, want)
			}
		})
	}
}

// A full shard evicts another entry, never the one being replaced or set.
func TestMemoryEviction(t *testing.T) {
	m := NewMemory[string](1) // one shard holding one entry
	m.Set("a.example", "a")
	m.Set("a.example", "a2") // replacing an existing key must not evict it
	if v, ok := m.Get("a.example"); !ok || v != "a2" {
		t.Fatalf("replace of the only entry: Get = %q, %v", v, ok)
	}
	m.Set("b.example", "b")
	if _, ok := m.Get("a.example"); ok {
		t.Error("a.example still present after b.example was set into a full store of one")
	}
	if v, ok := m.Get("b.example"); !ok || v != "b" {
		t.Errorf("newly set entry missing: Get = %q, %v", v, ok)
	}
	if m.Len() != 1 {
		t.Errorf("Len = %d, want 1", m.Len())
	}
}

func TestMemoryRangeStops(t *testing.T) {
	m := NewMemory[int](0)
	for i := 0; i < 100; i++ {
		m.Set(strconv.Itoa(i), i)
	}
	calls := 0
	m.Range(func(string, int) bool { calls++; return calls < 5 })
	if calls != 5 {
		t.Errorf("Range called fn %d times after it returned false on the 5th, want 5", calls)
	}
	// fn may modify the store without deadlocking.
	m.Range(func(k string, v int) bool {
		m.Delete(k)
		m.Set(k+"x", v)
		return true
	})
}

// Run with -race: readers, writers, deleters and rangers on overlapping keys.
func TestMemoryConcurrent(t *testing.T) {
	const max = 200
	m := NewMemory[int](max)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := fmt.Sprintf("d%d.example", (i*7+g)%500)
				switch i % 5 {
				case 0, 1:
					m.Set(k, i)
				case 2:
					m.Delete(k)
				case 3:
					m.Get(k)
				case 4:
					if i%100 == 4 {
						m.Range(func(string, int) bool { return true })
					}
					if n := m.Len(); n > max {
						t.Errorf("Len = %d exceeds bound %d", n, max)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if n := m.Len(); n > max {
		t.Errorf("Len = %d exceeds bound %d", n, max)
	}
}

func TestMemoryGetDoesNotAllocate(t *testing.T) {
	m := NewMemory[*int](1000)
	v := 1
	m.Set("example.com", &v)
	key := "example.com"
	allocs := testing.AllocsPerRun(1000, func() {
		m.Get(key)
		m.Get("missing.example")
	})
	if allocs != 0 {
		t.Errorf("Get allocates %.1f times per call pair, want 0 (hot path, architecture.md)", allocs)
	}
}

func BenchmarkMemoryGet(b *testing.B) {
	m := NewMemory[*int](100000)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = "mx" + strconv.Itoa(i) + ".example.com"
		v := i
		m.Set(keys[i], &v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := m.Get(keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkMemorySet(b *testing.B) {
	m := NewMemory[int](5000)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = "mx" + strconv.Itoa(i) + ".example.com"
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Set(keys[i%len(keys)], i)
	}
}
