package socketmap

import (
	"time"
)

// Connection fairness under MaxConns. Postfix sends each request in one write and answers
// come in milliseconds, so a connection holding a partial request for long, or sitting
// idle, costs a slot that a newcomer may need now: a slow-loris client (many connections,
// a byte a second each) must not make well-behaved clients queue behind it.

// evictGrace is how long a request may be partial before its connection can be evicted:
// a request in mid-arrival from a well-behaved client is complete well within it.
const evictGrace = 100 * time.Millisecond

// evictRetry is how often admit tries again to make room while every connection is busy.
const evictRetry = 50 * time.Millisecond

// admit takes a MaxConns slot for a newly accepted connection: at once if one is free,
// else by evicting a slow or idle connection, else by waiting for a slot. It returns
// false when the server shuts down first.
func (s *Server) admit(sem chan struct{}, done <-chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	tick := time.NewTicker(evictRetry)
	defer tick.Stop()
	for {
		s.evictOne(time.Now())
		select {
		case sem <- struct{}{}:
			return true
		case <-done:
			return false
		case <-tick.C:
		}
	}
}

// evictOne closes the connection that has held a partial request longest (for at least
// evictGrace), or else the one idle longest; a connection busy with a request, or whose
// request began within evictGrace, is never closed. It reports whether it closed one.
func (s *Server) evictOne(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		victim      *conn
		victimState connState
		victimSince time.Time
	)
	for c := range s.conns {
		c.mu.Lock()
		st, since, evicted := c.state, c.since, c.evicted
		c.mu.Unlock()
		switch {
		case evicted, st == stateBusy, st == statePartial && now.Sub(since) < evictGrace:
			continue
		case victim == nil,
			st == statePartial && victimState == stateIdle, // a slow request goes before an idle one
			st == victimState && since.Before(victimSince):
			victim, victimState, victimSince = c, st, since
		}
	}
	if victim == nil {
		return false
	}
	victim.mu.Lock()
	defer victim.mu.Unlock()
	if victim.state != victimState || !victim.since.Equal(victimSince) || victim.evicted {
		return false // it moved on meanwhile; the caller tries again
	}
	victim.evicted = true
	victim.nc.Close()
	what := "idle"
	if victimState == statePartial {
		what = "partial request"
	}
	s.logger().Debug("socketmap connection closed to make room for a new one (max connections reached)",
		"remote", remoteName(victim.nc), "held", what, "for", now.Sub(victimSince).Round(time.Millisecond))
	return true
}
