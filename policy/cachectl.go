package policy

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// CacheEntry is the operator's view of one cached domain (mailtls cache list|show).
type CacheEntry struct {
	Domain     string    `json:"domain"`
	State      string    `json:"state"` // policy, no-policy, failing, dns-failing, pending
	Mode       string    `json:"mode,omitempty"`
	RecordID   string    `json:"record_id,omitempty"`
	PolicyID   string    `json:"policy_id,omitempty"`
	MX         []string  `json:"mx,omitempty"`
	Fetched    time.Time `json:"fetched,omitzero"`
	Expires    time.Time `json:"expires,omitzero"`
	TXTChecked time.Time `json:"txt_checked,omitzero"`
	LastUsed   time.Time `json:"last_used,omitzero"`
	DANE       string    `json:"dane,omitempty"` // cached DANE outcome, if any
	// Detail is the full stored state, for `cache show`.
	Detail json.RawMessage `json:"detail,omitempty"`
}

func (e *Engine) view(domain string, en *stsEntry, detail bool) CacheEntry {
	cur := en.state.Load()
	st := cur.record()
	now := e.now()
	c := CacheEntry{Domain: domain, RecordID: st.RecordID, PolicyID: st.PolicyID, TXTChecked: st.TXTChecked, Fetched: st.Fetched, Expires: st.Expires}
	if u := en.used.Load(); u > 0 {
		c.LastUsed = time.Unix(0, u).UTC()
	}
	switch {
	case cur.usable(now):
		c.State, c.Mode, c.MX = "policy", string(st.Policy.Mode), st.Policy.MX
	case st.DNSError != "":
		c.State = "dns-failing"
	case st.FailedID != "":
		c.State = "failing"
	case st.RecordID == "":
		c.State = "no-policy"
	default:
		c.State = "pending"
	}
	if den, ok := e.dane.Get(domain); ok {
		c.DANE = den.state.Load().Outcome.String()
	}
	if detail {
		if st.Policy != nil && st.Policy.Lines == nil { // the canonical text, spelled out
			p := *st.Policy
			p.Lines = canonicalLines(&p)
			st.Policy = &p
		}
		c.Detail, _ = json.Marshal(st)
	}
	return c
}

// CacheList returns every cached domain whose name contains filter, sorted by name.
func (e *Engine) CacheList(filter string) []CacheEntry {
	var out []CacheEntry
	e.sts.Range(func(domain string, en *stsEntry) bool {
		if strings.Contains(domain, filter) {
			out = append(out, e.view(domain, en, false))
		}
		return true
	})
	slices.SortFunc(out, func(a, b CacheEntry) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// CacheShow returns one domain's cached state in full.
func (e *Engine) CacheShow(domain string) (CacheEntry, bool) {
	if d, err := ParseNexthop(domain); err == nil {
		domain = d
	}
	en, ok := e.sts.Get(domain)
	if !ok {
		return CacheEntry{}, false
	}
	return e.view(domain, en, true), true
}

// Purge forgets domain (or, with domain "", everything) in memory and in the persistent
// store, so the next lookup starts cold. It returns how many domains were dropped.
func (e *Engine) Purge(ctx context.Context, domain string) int {
	var victims []string
	if domain == "" {
		e.sts.Range(func(d string, _ *stsEntry) bool { victims = append(victims, d); return true })
	} else {
		if d, err := ParseNexthop(domain); err == nil {
			domain = d
		}
		if _, ok := e.sts.Get(domain); ok {
			victims = append(victims, domain)
		}
	}
	if domain == "" {
		e.dane.Range(func(d string, _ *daneEntry) bool { victims = append(victims, d); return true })
	} else if _, ok := e.dane.Get(domain); ok {
		victims = append(victims, domain)
	}
	victims = slices.Compact(slices.Sorted(slices.Values(victims)))
	for _, d := range victims {
		e.sts.Delete(d)
		e.dane.Delete(d)
		if e.opt.Backend != nil {
			e.opt.Backend.Delete(kindSTS, d)
			e.opt.Backend.Delete(kindDANE, d)
		}
	}
	if e.opt.Backend != nil {
		_ = e.opt.Backend.Flush(ctx)
	}
	return len(victims)
}
