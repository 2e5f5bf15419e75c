package loadgen

import "sync"

// seenSet counts strings seen by concurrent handlers.
type seenSet struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *seenSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[k]++
}

func (s *seenSet) count(k string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}
