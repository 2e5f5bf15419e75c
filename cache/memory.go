package cache

import (
	"sync"
	"sync/atomic"
)

// shardCount is the number of independently locked parts of a Memory store.
// A power of two, so a hash selects a shard with a mask.
const shardCount = 64

// Memory is the hot in-memory store: a map from key to V split into shards,
// each behind its own RWMutex, so concurrent readers of different domains do
// not contend. It is bounded by the maxEntries given to NewMemory and, when
// built by NewMemorySized, by a byte budget over what its values cost (as the
// size function reckons it). When a shard is full, storing evicts arbitrary
// entries of that shard until the new one fits (the policy engine can always
// rebuild an entry from the Backend or the network).
//
// The zero value is not usable; call NewMemory. Memory is safe for concurrent
// use.
type Memory[V any] struct {
	shards  []memShard[V]
	mask    uint32
	size    func(key string, v V) int // nil: no byte budget
	evicted atomic.Uint64             // entries evicted to make room, ever
}

type memShard[V any] struct {
	_        [64]byte // keeps neighbouring shards' locks off one cache line
	mu       sync.RWMutex
	m        map[string]slot[V]
	max      int   // entries; 0 = unbounded
	maxBytes int64 // 0 = unbounded
	bytes    int64 // what the entries cost, by size
}

// slot is a value and the bytes it was charged when stored.
type slot[V any] struct {
	v V
	n int64
}

// NewMemory returns an empty store holding at most maxEntries entries
// (0 = unbounded). The bound is exact: Len never exceeds it.
func NewMemory[V any](maxEntries int) *Memory[V] {
	return NewMemorySized[V](maxEntries, 0, nil)
}

// NewMemorySized is NewMemory with a byte budget as well: size says what one entry costs
// (key, value and what the value holds), and the entries of a shard together stay within
// its share of maxBytes (0 = no budget). One entry larger than a shard's share is still
// stored, alone, so the budget is exceeded by at most one entry per shard; callers bound
// what one entry may cost. A value that changes after it was stored is charged anew by
// Recharge.
func NewMemorySized[V any](maxEntries int, maxBytes int64, size func(key string, v V) int) *Memory[V] {
	if maxEntries < 0 {
		maxEntries = 0
	}
	if maxBytes < 0 || size == nil {
		maxBytes = 0
	}
	n := shardCount
	// With fewer entries than shards, use fewer shards so that each holds at
	// least one entry and the per-shard limits add up to maxEntries exactly.
	for maxEntries > 0 && n > maxEntries {
		n /= 2
	}
	m := &Memory[V]{shards: make([]memShard[V], n), mask: uint32(n - 1)}
	if maxBytes > 0 {
		m.size = size
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.m = make(map[string]slot[V])
		if maxEntries > 0 {
			s.max = maxEntries / n
			if i < maxEntries%n {
				s.max++
			}
		}
		if maxBytes > 0 {
			s.maxBytes = max(maxBytes/int64(n), 1)
		}
	}
	return m
}

// shard picks the shard for key with FNV-1a, computed inline so that a lookup
// does not allocate.
func (m *Memory[V]) shard(key string) *memShard[V] {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= prime32
	}
	return &m.shards[h&m.mask]
}

// cost is what storing v under key charges.
func (m *Memory[V]) cost(key string, v V) int64 {
	if m.size == nil {
		return 0
	}
	return int64(m.size(key, v))
}

// Get returns the value stored for key. It does not allocate.
func (m *Memory[V]) Get(key string) (V, bool) {
	s := m.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	return e.v, ok
}

// Set stores v for key. When the shard is full (entries or bytes), arbitrary
// other entries of that shard are evicted first.
func (m *Memory[V]) Set(key string, v V) {
	n := m.cost(key, v)
	s := m.shard(key)
	s.mu.Lock()
	old, exists := s.m[key]
	if exists {
		s.bytes -= old.n
	}
	m.evicted.Add(s.makeRoom(key, n, !exists))
	s.m[key] = slot[V]{v, n}
	s.bytes += n
	s.mu.Unlock()
}

// Recharge charges key's value anew, after what it holds changed in place (a
// value that is a pointer to state replaced atomically), evicting other
// entries if the shard is now over its budget. A missing key is ignored.
func (m *Memory[V]) Recharge(key string) {
	if m.size == nil {
		return
	}
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return
	}
	n := int64(m.size(key, e.v))
	s.bytes -= e.n
	m.evicted.Add(s.makeRoom(key, n, false))
	s.m[key] = slot[V]{e.v, n}
	s.bytes += n
}

// makeRoom evicts arbitrary entries other than key until one more entry (when
// adding) of n bytes fits the shard's bounds, or nothing else is left, and returns how
// many it evicted. Callers hold s.mu.
func (s *memShard[V]) makeRoom(key string, n int64, adding bool) (evicted uint64) {
	full := func() bool {
		return adding && s.max > 0 && len(s.m) >= s.max || s.maxBytes > 0 && s.bytes+n > s.maxBytes
	}
	for k, e := range s.m { // map iteration order is unspecified: arbitrary victims
		if !full() {
			return evicted
		}
		if k == key {
			continue
		}
		delete(s.m, k)
		s.bytes -= e.n
		evicted++
	}
	return evicted
}

// Evictions returns how many entries Set and Recharge have evicted to make room, since
// the store was made. Delete is not an eviction. A caller that knows which entries a
// backing store holds can tell from it whether they are all still here.
func (m *Memory[V]) Evictions() uint64 { return m.evicted.Load() }

// SetIfAbsent stores v for key unless key is present or key's shard is full (entries
// or bytes), and reports whether it stored it. Unlike Set it never evicts: a warm start
// and a read-back from disk use it, so an entry read from disk neither replaces one the
// engine published meanwhile nor pushes a fresher one out (which a later read could then
// bring back older).
func (m *Memory[V]) SetIfAbsent(key string, v V) bool {
	n := m.cost(key, v)
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[key]; exists {
		return false
	}
	if s.max > 0 && len(s.m) >= s.max || s.maxBytes > 0 && s.bytes+n > s.maxBytes {
		return false
	}
	s.m[key] = slot[V]{v, n}
	s.bytes += n
	return true
}

// Delete removes key, if present.
func (m *Memory[V]) Delete(key string) {
	s := m.shard(key)
	s.mu.Lock()
	if e, ok := s.m[key]; ok {
		delete(s.m, key)
		s.bytes -= e.n
	}
	s.mu.Unlock()
}

// Len returns the number of entries.
func (m *Memory[V]) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Bytes returns what the entries cost together, by the size function (0 without one).
func (m *Memory[V]) Bytes() int64 {
	var n int64
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += s.bytes
		s.mu.RUnlock()
	}
	return n
}

// Full reports whether the byte budget is nearly spent: within 1/16 of it in total.
// A warm start stops reading then, as it does when Len reaches the entry bound.
func (m *Memory[V]) Full() bool {
	var used, budget int64
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		used, budget = used+s.bytes, budget+s.maxBytes
		s.mu.RUnlock()
	}
	return budget > 0 && used >= budget-budget/16
}

// Range calls fn for each entry until fn returns false. Each shard is copied
// under its lock and fn runs without any lock held, so fn may call Get, Set
// and Delete; entries changed during Range may or may not be seen.
func (m *Memory[V]) Range(fn func(key string, v V) bool) {
	type kv struct {
		k string
		v V
	}
	var buf []kv
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		buf = buf[:0]
		for k, e := range s.m {
			buf = append(buf, kv{k, e.v})
		}
		s.mu.RUnlock()
		for _, e := range buf {
			if !fn(e.k, e.v) {
				return
			}
		}
	}
}
