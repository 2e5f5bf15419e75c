package cache

import (
	"strconv"
	"testing"
)

// named is a test value that names its key, as the engine's states do.
type named struct {
	key string
	n   int
}

func nameOf(v *named) string { return v.key }

// A store whose values name their keys (KeyOf) behaves as one that keeps the keys.
func TestMemoryKeyOf(t *testing.T) {
	for _, max := range []int{0, 1, 3, 1000} {
		m := NewMemory[*named](max, KeyOf(nameOf))
		for i := range 50 {
			k := "d" + strconv.Itoa(i) + ".example"
			m.Set(k, &named{k, i})
		}
		if max > 0 && m.Len() > max {
			t.Errorf("max=%d: Len %d", max, m.Len())
		}
		seen := 0
		m.Range(func(k string, v *named) bool {
			seen++
			if k != v.key {
				t.Errorf("Range gave %q for the value of %q", k, v.key)
			}
			if got, ok := m.Get(k); !ok || got != v {
				t.Errorf("Get(%q) = %v, %v", k, got, ok)
			}
			return true
		})
		if seen != m.Len() {
			t.Errorf("max=%d: Range saw %d of %d", max, seen, m.Len())
		}
		if _, ok := m.Get("missing.example"); ok {
			t.Error("a missing key was found")
		}
		m.Range(func(k string, _ *named) bool { m.Delete(k); return true })
		if m.Len() != 0 {
			t.Errorf("max=%d: %d left after deleting every key", max, m.Len())
		}
	}
}

// Two keys with one hash share a slot: the key stored there answers, the other misses;
// Set of the other evicts it (counted in Dropped), SetIfAbsent of the other is refused
// (counted too), and Delete of the other leaves it.
func TestMemorySameHash(t *testing.T) {
	for _, keyOf := range []bool{true, false} {
		var opts []Option[*named]
		if keyOf {
			opts = append(opts, KeyOf(nameOf))
		}
		m := NewMemory[*named](0, opts...)
		a, b := &named{"a.example", 1}, &named{"b.example", 2}
		// Put b where a's hash points, as a collision would.
		h, s := m.locate(a.key)
		s.mu.Lock()
		m.put(s, h, b.key, b)
		s.mu.Unlock()
		if _, ok := m.Get(a.key); ok {
			t.Errorf("keyOf %v: a key found in another key's slot", keyOf)
		}
		m.Delete(a.key)
		if m.Len() != 1 {
			t.Errorf("keyOf %v: Delete of another key emptied the slot", keyOf)
		}
		if m.SetIfAbsent(a.key, a) || m.Dropped() != 1 {
			t.Errorf("keyOf %v: SetIfAbsent into another key's slot: Dropped %d", keyOf, m.Dropped())
		}
		m.Set(a.key, a)
		if got, ok := m.Get(a.key); !ok || got != a || m.Dropped() != 2 || m.Len() != 1 {
			t.Errorf("keyOf %v: Set over another key's slot: %v %v, Dropped %d, Len %d", keyOf, got, ok, m.Dropped(), m.Len())
		}
	}
}
