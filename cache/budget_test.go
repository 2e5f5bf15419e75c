package cache

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// sized is a test value whose cost can change in place, like the engine's entries.
type sized struct{ n atomic.Int64 }

func newSized(n int) *sized {
	v := &sized{}
	v.n.Store(int64(n))
	return v
}

func sizeOf(key string, v *sized) int { return len(key) + int(v.n.Load()) }

// Issue 11: the hot store is bounded by bytes, not only entries. Whatever sizes arrive
// (many small, few huge, a mix), the bytes held stay within the budget plus at most one
// entry per shard (an entry larger than its shard's share is kept alone), and Bytes
// agrees with the sizes of what Range reports.
func TestMemoryByteBudget(t *testing.T) {
	const budget = 256 << 10
	tests := []struct {
		name    string
		entries int
		sizeFor func(i int) int
	}{
		{"small entries", 20000, func(int) int { return 100 }},
		{"entries of 4 KiB", 2000, func(int) int { return 4 << 10 }},
		{"entries larger than a shard's share", 500, func(int) int { return 8 << 10 }},
		{"a hostile mix", 10000, func(i int) int { return []int{60, 200, 30 << 10, 120}[i%4] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemorySized[*sized](0, budget, sizeOf)
			largest := 0
			for i := range tt.entries {
				n := tt.sizeFor(i)
				largest = max(largest, n+16)
				m.Set("d"+strconv.Itoa(i)+".example", newSized(n))
				if got := m.Bytes(); got > budget+int64(shardCount*largest) {
					t.Fatalf("after %d entries: %d bytes held, budget %d", i+1, got, budget)
				}
			}
			var sum int64
			m.Range(func(k string, v *sized) bool {
				sum += int64(sizeOf(k, v))
				return true
			})
			if sum != m.Bytes() {
				t.Errorf("Range sums to %d bytes, Bytes says %d", sum, m.Bytes())
			}
			if m.Bytes() > budget && largest < budget/shardCount {
				t.Errorf("%d bytes held with entries smaller than a shard's share, budget %d", m.Bytes(), budget)
			}
			if m.Len() == 0 {
				t.Error("nothing kept")
			}
		})
	}
}

// An entry replaced by a larger one is charged anew, and others are evicted to stay
// within the budget; Delete and replacing Set give its bytes back.
func TestMemoryReplaceCharges(t *testing.T) {
	m := NewMemorySized[*sized](0, 64*1000, sizeOf) // 1000 bytes a shard
	keys := make([]string, 0, 2000)
	for i := range 2000 {
		k := "k" + strconv.Itoa(i)
		keys = append(keys, k)
		m.Set(k, newSized(10))
	}
	before := m.Len()
	grown := keys[0]
	m.Set(grown, newSized(900))
	if _, ok := m.Get(grown); !ok {
		t.Fatal("replacing Set evicted the entry it stored")
	}
	if m.Len() >= before {
		t.Errorf("Len %d after an entry grew to 900 bytes, was %d: nothing evicted", m.Len(), before)
	}
	if m.Bytes() > 64*1000 {
		t.Errorf("%d bytes held after the replace, budget 64000", m.Bytes())
	}
	b := m.Bytes()
	m.Delete(grown)
	if m.Bytes() != b-int64(len(grown)+900) {
		t.Errorf("Delete gave back %d bytes, want %d", b-m.Bytes(), len(grown)+900)
	}
	m.Set("x", newSized(5))
	m.Set("x", newSized(7))
	var sum int64
	m.Range(func(k string, v *sized) bool { sum += int64(sizeOf(k, v)); return true })
	if sum != m.Bytes() {
		t.Errorf("after replacing Set: Range sums %d, Bytes %d", sum, m.Bytes())
	}
	if m.SetIfAbsent("huge", newSized(5000)) {
		t.Error("SetIfAbsent stored an entry over its shard's budget")
	}
}
