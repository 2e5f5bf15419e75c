package policy

import "time"

// STSTimers are the MTA-STS timers (configuration mta_sts.*) a running engine reads on
// every use, so a configuration reload changes them at once (SetSTSTimers).
type STSTimers struct {
	FetchTimeout    time.Duration // bound on one domain's shared DNS + HTTPS work (default 10s)
	FailureRetry    time.Duration // a failing policy id is refetched at most this often (default 5m)
	RefreshInterval time.Duration // proactive refetch of held policies (default 24h)
	// TXTTTLMin is the floor on the _mta-sts TXT record's TTL (default 5s): the record is
	// re-read once its check is older than the TTL as published, or this floor
	// (conformance.md §4: no floor beyond a few seconds).
	TXTTTLMin time.Duration
}

// SetSTSTimers replaces the timers atomically (configuration reload); a zero field takes
// its default.
func (e *Engine) SetSTSTimers(t STSTimers) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.FetchTimeout, 10*time.Second)
	def(&t.FailureRetry, 5*time.Minute)
	def(&t.RefreshInterval, 24*time.Hour)
	def(&t.TXTTTLMin, DefaultTXTTTLMin)
	e.timers.Store(&t)
}

// STSTimers returns the timers in force.
func (e *Engine) STSTimers() STSTimers { return *e.timers.Load() }
