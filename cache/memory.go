package cache

import "sync"

// shardCount is the number of independently locked parts of a Memory store.
// A power of two, so a hash selects a shard with a mask.
const shardCount = 64

// Memory is the hot in-memory store: a map from key to V split into shards,
// each behind its own RWMutex, so concurrent readers of different domains do
// not contend. It is bounded by the maxEntries given to NewMemory; when a
// shard is full, Set evicts an arbitrary entry of that shard (the policy
// engine can always rebuild an entry from the Backend or the network).
//
// The zero value is not usable; call NewMemory. Memory is safe for concurrent
// use.
type Memory[V any] struct {
	shards []memShard[V]
	mask   uint32
}

type memShard[V any] struct {
	_   [64]byte // keeps neighbouring shards' locks off one cache line
	mu  sync.RWMutex
	m   map[string]V
	max int // 0 = unbounded
}

// NewMemory returns an empty store holding at most maxEntries entries
// (0 = unbounded). The bound is exact: Len never exceeds it.
func NewMemory[V any](maxEntries int) *Memory[V] {
	if maxEntries < 0 {
		maxEntries = 0
	}
	n := shardCount
	// With fewer entries than shards, use fewer shards so that each holds at
	// least one entry and the per-shard limits add up to maxEntries exactly.
	for maxEntries > 0 && n > maxEntries {
		n /= 2
	}
	m := &Memory[V]{shards: make([]memShard[V], n), mask: uint32(n - 1)}
	for i := range m.shards {
		s := &m.shards[i]
		s.m = make(map[string]V)
		if maxEntries > 0 {
			s.max = maxEntries / n
			if i < maxEntries%n {
				s.max++
			}
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

// Get returns the value stored for key. It does not allocate.
func (m *Memory[V]) Get(key string) (V, bool) {
	s := m.shard(key)
	s.mu.RLock()
	v, ok := s.m[key]
	s.mu.RUnlock()
	return v, ok
}

// Set stores v for key. When key is new and its shard is full, an arbitrary
// entry of that shard is evicted first.
func (m *Memory[V]) Set(key string, v V) {
	s := m.shard(key)
	s.mu.Lock()
	if _, exists := s.m[key]; !exists && s.max > 0 && len(s.m) >= s.max {
		for k := range s.m { // map iteration order is unspecified: an arbitrary victim
			delete(s.m, k)
			break
		}
	}
	s.m[key] = v
	s.mu.Unlock()
}

// SetIfAbsent stores v for key unless key is present or key's shard is full, and reports
// whether it stored it. Unlike Set it never evicts: a warm start and a read-back from disk
// use it, so an entry read from disk neither replaces one the engine published meanwhile
// nor pushes a fresher one out (which a later read could then bring back older).
func (m *Memory[V]) SetIfAbsent(key string, v V) bool {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[key]; exists {
		return false
	}
	if s.max > 0 && len(s.m) >= s.max {
		return false
	}
	s.m[key] = v
	return true
}

// Delete removes key, if present.
func (m *Memory[V]) Delete(key string) {
	s := m.shard(key)
	s.mu.Lock()
	delete(s.m, key)
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
		for k, v := range s.m {
			buf = append(buf, kv{k, v})
		}
		s.mu.RUnlock()
		for _, e := range buf {
			if !fn(e.k, e.v) {
				return
			}
		}
	}
}
