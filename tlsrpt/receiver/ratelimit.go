package receiver

import (
	"sync"
	"time"
)

// rateLimiter allows each key at most n events per window (a fixed window per key). It
// tracks at most maxKeys keys; when that many are active in the current window, new
// keys are refused too, so memory stays bounded under a flood of addresses.
type rateLimiter struct {
	n       int
	window  time.Duration
	maxKeys int
	mu      sync.Mutex
	seen    map[string]*rlEntry
}

type rlEntry struct {
	start time.Time
	n     int
}

func newRateLimiter(n int, window time.Duration) *rateLimiter {
	return &rateLimiter{n: n, window: window, maxKeys: 10000, seen: map[string]*rlEntry{}}
}

// allow counts one event for key at now and reports whether it is within the limit.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.seen[key]
	if ok && now.Sub(e.start) >= l.window {
		e.start, e.n = now, 0
	}
	if !ok {
		if len(l.seen) >= l.maxKeys {
			for k, v := range l.seen {
				if now.Sub(v.start) >= l.window {
					delete(l.seen, k)
				}
			}
			if len(l.seen) >= l.maxKeys {
				return false
			}
		}
		e = &rlEntry{start: now}
		l.seen[key] = e
	}
	if e.n >= l.n {
		return false
	}
	e.n++
	return true
}
