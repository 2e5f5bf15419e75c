package cache

import (
	"hash/maphash"
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
// A million entries are held at once, so a slot is small: the maps are keyed by a
// 64-bit hash of the key (hash/maphash, seeded per store, so keys cannot be chosen to
// collide), and when the values name their key (KeyOf) the key is read from the value
// instead of being stored: a slot is then the hash and the value, 16 bytes for a
// pointer. A lookup checks the key it finds; two keys with one hash (about one pair in
// 10¹³ among a million keys) share the slot, the later one evicting the other — a miss
// for the evicted key, as any eviction. The charge of an entry is recomputed rather
// than stored, so a stored value's size must not change (store a new value instead).
//
// The zero value is not usable; call NewMemory. Memory is safe for concurrent
// use.
type Memory[V any] struct {
	shards  []memShard[V]
	mask    uint64
	seed    maphash.Seed
	keyOf   func(V) string            // nil: keys are kept beside the values
	size    func(key string, v V) int // nil: no byte budget
	dropped atomic.Uint64             // entries evicted or refused for room (Dropped)
}

type memShard[V any] struct {
	_        [64]byte // keeps neighbouring shards' locks off one cache line
	mu       sync.RWMutex
	m        map[uint64]V
	keys     map[uint64]string // the keys, when the values do not name them
	max      int               // entries; 0 = unbounded
	maxBytes int64             // 0 = unbounded
	bytes    int64             // what the entries cost, by size
}

// Option configures a Memory.
type Option[V any] func(*Memory[V])

// KeyOf says how a value names the key it is stored under: the store then keeps no key
// of its own (16 bytes and the key's slot less per entry). keyOf(v) must return the key
// v was stored under.
func KeyOf[V any](keyOf func(V) string) Option[V] {
	return func(m *Memory[V]) { m.keyOf = keyOf }
}

// NewMemory returns an empty store holding at most maxEntries entries
// (0 = unbounded). The bound is exact: Len never exceeds it.
func NewMemory[V any](maxEntries int, opts ...Option[V]) *Memory[V] {
	return NewMemorySized[V](maxEntries, 0, nil, opts...)
}

// NewMemorySized is NewMemory with a byte budget as well: size says what one entry costs
// (key, value and what the value holds), and the entries of a shard together stay within
// its share of maxBytes (0 = no budget). One entry larger than a shard's share is still
// stored, alone, so the budget is exceeded by at most one entry per shard; callers bound
// what one entry may cost. size must give the same cost for a value as long as it is
// stored (the charge is recomputed when the entry leaves).
func NewMemorySized[V any](maxEntries int, maxBytes int64, size func(key string, v V) int, opts ...Option[V]) *Memory[V] {
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
	m := &Memory[V]{shards: make([]memShard[V], n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(m)
	}
	if maxBytes > 0 {
		m.size = size
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.m = make(map[uint64]V)
		if m.keyOf == nil {
			s.keys = make(map[uint64]string)
		}
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

// locate hashes key and picks its shard (by the hash's top bits; the map uses all of
// them). It does not allocate.
func (m *Memory[V]) locate(key string) (uint64, *memShard[V]) {
	h := maphash.String(m.seed, key)
	return h, &m.shards[(h>>32)&m.mask]
}

// keyAt is the key of the entry v in slot h of s. Callers hold s.mu.
func (m *Memory[V]) keyAt(s *memShard[V], h uint64, v V) string {
	if m.keyOf != nil {
		return m.keyOf(v)
	}
	return s.keys[h]
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
	h, s := m.locate(key)
	s.mu.RLock()
	v, ok := s.m[h]
	if ok && m.keyAt(s, h, v) != key {
		var none V
		v, ok = none, false // another key with the same hash
	}
	s.mu.RUnlock()
	return v, ok
}

// Set stores v for key. When the shard is full (entries or bytes), arbitrary
// other entries of that shard are evicted first.
func (m *Memory[V]) Set(key string, v V) {
	n := m.cost(key, v)
	h, s := m.locate(key)
	s.mu.Lock()
	old, exists := s.m[h]
	if exists {
		oldKey := m.keyAt(s, h, old)
		s.bytes -= m.cost(oldKey, old)
		if oldKey != key {
			m.dropped.Add(1) // another key with the same hash gives way
		}
	}
	m.dropped.Add(m.makeRoom(s, h, n, !exists))
	m.put(s, h, key, v)
	s.bytes += n
	s.mu.Unlock()
}

// put stores v for key in slot h. Callers hold s.mu and account for the bytes.
func (m *Memory[V]) put(s *memShard[V], h uint64, key string, v V) {
	s.m[h] = v
	if s.keys != nil {
		s.keys[h] = key
	}
}

// remove empties slot h. Callers hold s.mu and account for the bytes.
func (s *memShard[V]) remove(h uint64) {
	delete(s.m, h)
	if s.keys != nil {
		delete(s.keys, h)
	}
}

// makeRoom evicts arbitrary entries other than slot h until one more entry (when
// adding) of n bytes fits the shard's bounds, or nothing else is left, and returns how
// many it evicted. Callers hold s.mu.
func (m *Memory[V]) makeRoom(s *memShard[V], h uint64, n int64, adding bool) uint64 {
	full := func() bool {
		return adding && s.max > 0 && len(s.m) >= s.max || s.maxBytes > 0 && s.bytes+n > s.maxBytes
	}
	var evicted uint64
	for k, v := range s.m { // map iteration order is unspecified: arbitrary victims
		if !full() {
			break
		}
		if k == h {
			continue
		}
		s.bytes -= m.cost(m.keyAt(s, k, v), v)
		s.remove(k)
		evicted++
	}
	return evicted
}

// SetIfAbsent stores v for key unless key is present or key's shard is full (entries
// or bytes), and reports whether it stored it. Unlike Set it never evicts: a warm start
// and a read-back from disk use it, so an entry read from disk neither replaces one the
// engine published meanwhile nor pushes a fresher one out (which a later read could then
// bring back older). A slot another key holds (the same hash) counts as full.
func (m *Memory[V]) SetIfAbsent(key string, v V) bool {
	n := m.cost(key, v)
	h, s := m.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, exists := s.m[h]; exists {
		if m.keyAt(s, h, old) != key {
			m.dropped.Add(1)
		}
		return false
	}
	if s.max > 0 && len(s.m) >= s.max || s.maxBytes > 0 && s.bytes+n > s.maxBytes {
		m.dropped.Add(1)
		return false
	}
	m.put(s, h, key, v)
	s.bytes += n
	return true
}

// Delete removes key, if present.
func (m *Memory[V]) Delete(key string) {
	h, s := m.locate(key)
	s.mu.Lock()
	if v, ok := s.m[h]; ok && m.keyAt(s, h, v) == key {
		s.bytes -= m.cost(key, v)
		s.remove(h)
	}
	s.mu.Unlock()
}

// Dropped is how many entries the store has evicted to make room (or for another key
// with the same hash), and refused (SetIfAbsent) for want of room, since it was made.
// While it stays the same, every entry stored is still there unless deleted: a caller
// that wrote each entry both here and to a persistent store knows the persistent one
// holds nothing this one lacks.
func (m *Memory[V]) Dropped() uint64 { return m.dropped.Load() }

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
		for h, v := range s.m {
			buf = append(buf, kv{m.keyAt(s, h, v), v})
		}
		s.mu.RUnlock()
		for _, e := range buf {
			if !fn(e.k, e.v) {
				return
			}
		}
	}
}
