package policy

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/mailtls/mailtls/cache"
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
	// DiskOnly: the state is in the persistent store but not (yet) in memory, e.g. while
	// the store loads after a restart; a lookup reads it from there.
	DiskOnly bool `json:"disk_only,omitempty"`
	// Detail is the full stored state, for `cache show`.
	Detail json.RawMessage `json:"detail,omitempty"`
}

func (e *Engine) view(domain string, cur *stsState, detail bool) CacheEntry {
	st := cur.record()
	now := e.now()
	c := CacheEntry{Domain: domain, RecordID: st.RecordID, PolicyID: st.PolicyID, TXTChecked: st.TXTChecked, Fetched: st.Fetched, Expires: st.Expires}
	if u := cur.used.Load(); u > 0 {
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
		// Durations read as text ("1h0m0s"), not as Go's nanosecond integers.
		c.Detail, _ = json.Marshal(struct {
			*stsRecord
			TXTTTL string `json:"txt_ttl"`
		}{st, st.TXTTTL.String()})
	}
	return c
}

// CacheList returns every cached domain whose name contains filter, sorted by name:
// those in memory, and those only in the persistent store (DiskOnly).
func (e *Engine) CacheList(filter string) []CacheEntry {
	var out []CacheEntry
	e.sts.Range(func(domain string, en *stsState) bool {
		if strings.Contains(domain, filter) {
			out = append(out, e.view(domain, en, false))
		}
		return true
	})
	if e.opt.Backend != nil {
		_ = e.opt.Backend.Range(context.Background(), kindSTS, func(ent cache.Entry) bool {
			if _, inMemory := e.sts.Get(ent.Key); !inMemory && strings.Contains(ent.Key, filter) {
				if en, ok := e.stsSlot(ent); ok {
					out = append(out, e.diskView(ent.Key, en, false))
				}
			}
			return true
		})
	}
	slices.SortFunc(out, func(a, b CacheEntry) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// CacheShow returns one domain's cached state in full, from memory or, when it is only in
// the persistent store, from there (DiskOnly).
func (e *Engine) CacheShow(domain string) (CacheEntry, bool) {
	if d, err := ParseNexthop(domain); err == nil {
		domain = d
	}
	if en, ok := e.sts.Get(domain); ok {
		return e.view(domain, en, true), true
	}
	en, ok := e.stsFromDisk(domain)
	if !ok {
		return CacheEntry{}, false
	}
	return e.diskView(domain, en, true), true
}

// diskView is the view of a slot read from the persistent store, not in memory.
func (e *Engine) diskView(domain string, en *stsState, detail bool) CacheEntry {
	c := e.view(domain, en, detail)
	c.DiskOnly = true
	return c
}

// Purge forgets domain (or, with domain "", everything) in memory and in the persistent
// store, so the next lookup starts cold: its MTA-STS state and the DANE facts of every
// destination with its name ("[domain]:587" too). It returns how many domains were dropped. Entries
// still only on disk (not loaded yet after a restart, or beyond the hot store's bound) are
// dropped too, and a Load or read-back in progress cannot bring a purged entry back.
func (e *Engine) Purge(ctx context.Context, domain string) int {
	e.purgeMu.Lock()
	defer e.purgeMu.Unlock()
	e.purges.Add(1)
	victims := map[string]bool{}
	if domain == "" {
		var stsKeys, daneKeys []string
		e.sts.Range(func(d string, _ *stsState) bool { stsKeys = append(stsKeys, d); return true })
		e.dane.Range(func(k string, _ *daneEntry) bool { daneKeys = append(daneKeys, k); return true })
		for _, d := range stsKeys {
			e.sts.Delete(d)
			victims[d] = true
		}
		var replyKeys []string
		e.tlsrpt.Range(func(d string, _ *tlsrptReply) bool { replyKeys = append(replyKeys, d); return true })
		for _, d := range replyKeys {
			e.tlsrpt.Delete(d)
		}
		for _, k := range daneKeys {
			e.dane.Delete(k)
			victims[daneKeyDomain(k)] = true
		}
	} else {
		if d, err := ParseNexthop(domain); err == nil {
			domain = d
		}
		if _, ok := e.sts.Get(domain); ok {
			victims[domain] = true
		}
		e.sts.Delete(domain)
		e.tlsrpt.Delete(domain)
		// The DANE facts of every destination with this name: "domain", "[domain]",
		// "[domain]:587", "domain:587" (conformance.md §1).
		var keys []string
		e.dane.Range(func(k string, _ *daneEntry) bool {
			if daneKeyDomain(k) == domain {
				keys = append(keys, k)
			}
			return true
		})
		for _, k := range keys {
			victims[domain] = true
			e.dane.Delete(k)
		}
	}
	if e.opt.Backend == nil {
		return len(victims)
	}
	type key struct{ kind, domain string }
	var onDisk []key
	if domain == "" {
		_ = e.opt.Backend.Range(ctx, "", func(ent cache.Entry) bool {
			if ent.Kind == kindSTS || ent.Kind == kindDANE {
				onDisk = append(onDisk, key{ent.Kind, ent.Key})
			}
			return true
		})
	} else {
		if _, ok, err := e.opt.Backend.Get(ctx, kindSTS, domain); err == nil && ok {
			onDisk = append(onDisk, key{kindSTS, domain})
		}
		_ = e.opt.Backend.Range(ctx, kindDANE, func(ent cache.Entry) bool {
			if daneKeyDomain(ent.Key) == domain {
				onDisk = append(onDisk, key{kindDANE, ent.Key})
			}
			return true
		})
	}
	for _, k := range onDisk {
		e.opt.Backend.Delete(k.kind, k.domain)
		victims[daneKeyDomain(k.domain)] = true
	}
	_ = e.opt.Backend.Flush(ctx)
	return len(victims)
}

// daneKeyDomain is the domain of a DANE cache key (Nexthop.DANEKey): "example.com" for
// "example.com", "[example.com]", "[example.com]:587" and "example.com:587".
func daneKeyDomain(k string) string {
	if strings.HasPrefix(k, "[") {
		if end := strings.IndexByte(k, ']'); end > 0 {
			return k[1:end]
		}
	}
	if i := strings.IndexByte(k, ':'); i >= 0 {
		return k[:i]
	}
	return k
}
