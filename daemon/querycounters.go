package daemon

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/policy"
)

// queryCounters keeps the handles of mailtls_queries_total's counters, so that counting an
// answer costs a map read and an atomic add instead of CounterVec.WithLabelValues (label
// hashing and validation, and a lock shared by every connection) per answer. The table
// holds the configured profiles and "" (queries naming no configured profile); it is
// replaced when the profiles are (setProfiles, on start and reload), so it never holds
// more than the configuration names. A handle is created on an answer kind's and source's
// first use, so /metrics shows the same series as it would without the table.
type queryCounters struct {
	vec   *prometheus.CounterVec
	table atomic.Pointer[map[string]*profileCounters]
}

// profileCounters are one profile's handles by answer kind and source (the closed sets of
// policy.Result and policy.Source, numbered by resultIndex and sourceIndex).
type profileCounters struct {
	profile string
	c       [numResults][numSources]atomic.Pointer[counterHandle]
}

type counterHandle struct{ prometheus.Counter }

const numResults, numSources = 4, 8

func newQueryCounters(vec *prometheus.CounterVec) *queryCounters {
	q := &queryCounters{vec: vec}
	q.setProfiles(nil)
	return q
}

// setProfiles replaces the table with one for the profile names of profiles. A profile
// kept across the change keeps its handles (its counts go on either way: a handle is the
// vector's own counter).
func (q *queryCounters) setProfiles(profiles map[string]*policy.Profile) {
	var old map[string]*profileCounters
	if o := q.table.Load(); o != nil {
		old = *o
	}
	t := make(map[string]*profileCounters, len(profiles)+1)
	add := func(name string) {
		if t[name] = old[name]; t[name] == nil {
			t[name] = &profileCounters{profile: name}
		}
	}
	for name := range profiles {
		add(name)
	}
	add("")
	q.table.Store(&t)
}

// inc counts one answer. A profile the table does not hold (a query that raced a reload
// which removed its profile) and an answer kind or source outside the known sets are
// counted through the vector directly.
func (q *queryCounters) inc(profile string, result policy.Result, source policy.Source) {
	p := (*q.table.Load())[profile]
	r, s := resultIndex(result), sourceIndex(source)
	if p == nil || r < 0 || s < 0 {
		q.vec.WithLabelValues(profile, string(result), string(source)).Inc()
		return
	}
	slot := &p.c[r][s]
	h := slot.Load()
	if h == nil {
		// Racing creators get the same counter from the vector; either handle does.
		h = &counterHandle{q.vec.WithLabelValues(p.profile, string(result), string(source))}
		slot.Store(h)
	}
	h.Inc()
}

func resultIndex(r policy.Result) int {
	switch r {
	case policy.OK:
		return 0
	case policy.NotFound:
		return 1
	case policy.Temp:
		return 2
	case policy.Perm:
		return 3
	}
	return -1
}

func sourceIndex(s policy.Source) int {
	switch s {
	case policy.SourceInput:
		return 0
	case policy.SourceOverride:
		return 1
	case policy.SourceDANE:
		return 2
	case policy.SourceMTASTS:
		return 3
	case policy.SourceASN:
		return 4
	case policy.SourceDefault:
		return 5
	case policy.SourceDeadline:
		return 6
	case policy.SourceReportOnly:
		return 7
	}
	return -1
}
