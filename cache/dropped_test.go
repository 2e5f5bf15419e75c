package cache

import (
	"strconv"
	"testing"
)

// Dropped counts every entry the store lost for room — evicted by Set (entry bound or
// byte budget) or Recharge, or refused by SetIfAbsent — and nothing else: replacing a
// value, deleting and storing within the bounds leave it as it is.
func TestMemoryDropped(t *testing.T) {
	m := NewMemory[int](2) // two shards of one entry each
	m.Set("a", 1)
	m.Set("a", 2)
	m.Delete("a")
	if m.Dropped() != 0 {
		t.Fatalf("Dropped = %d after a replace and a delete, want 0", m.Dropped())
	}
	keys := 0
	for i := 0; m.Len() < 2; i++ {
		m.Set(strconv.Itoa(i), i)
		keys++
	}
	if m.Dropped() != uint64(keys-2) {
		t.Fatalf("Dropped = %d after %d keys into 2 slots, want %d", m.Dropped(), keys, keys-2)
	}
	before := m.Dropped()
	evicted := 0
	for i := 100; i < 120; i++ {
		l := m.Len()
		m.Set(strconv.Itoa(i), i)
		evicted += l + 1 - m.Len()
	}
	if got := m.Dropped() - before; got != uint64(evicted) {
		t.Errorf("Dropped grew by %d over %d evictions", got, evicted)
	}
	before = m.Dropped()
	refused := 0
	for i := 200; i < 220; i++ {
		if !m.SetIfAbsent(strconv.Itoa(i), i) {
			refused++
		}
	}
	if refused == 0 || m.Dropped()-before != uint64(refused) {
		t.Errorf("Dropped grew by %d over %d refusals", m.Dropped()-before, refused)
	}

	// The byte budget: a value replaced by a larger one evicts the others of its shard
	// (100 bytes a shard here), each counted. The keys are chosen in one shard, since
	// the seeded hash spreads them differently in every run.
	type v struct{ n int }
	b := NewMemorySized[*v](0, 64*100, func(_ string, x *v) int { return x.n })
	_, home := b.locate("0")
	b.Set("0", &v{n: 10})
	for i := 1; b.Len() < 10; i++ {
		if _, s := b.locate(strconv.Itoa(i)); s == home {
			b.Set(strconv.Itoa(i), &v{n: 10})
		}
	}
	if b.Dropped() != 0 {
		t.Fatalf("Dropped = %d within the budget", b.Dropped())
	}
	b.Set("0", &v{n: 100})
	if got := b.Dropped(); got != 9 || b.Len() != 1 {
		t.Errorf("replace: Dropped = %d, Len %d; want the 9 others evicted", got, b.Len())
	}
}
