package httpapi

import (
	"slices"
	"sync/atomic"

	"github.com/mailtls/mailtls/policy"
)

// A bounded cache of encoded bodies: the head and tail (body.go) of the last answer per
// slot, a slot chosen by a hash of the profile and next-hop. An MTA asks again and again
// for the same destinations, whose cached decisions rest on the same immutable facts, so
// the reasons are rendered and the strings escaped once per change of the facts instead
// of once per request.
//
// An entry is used only when everything its head and tail were encoded from is equal to
// the new decision's: the fields they show, the socketmap reply, the MTA-STS policy
// (policy.STSPolicy.Equal), the DANE hosts (the same immutable value) and
// policy.ReasonsKey, which changes whenever the reasons text could. Anything else — a changed fact, a reloaded configuration, another key in the same
// slot — renders the body afresh and replaces the entry. Entries are immutable once
// published.
//
// Memory is bounded: bodySlots entries of at most maxCachedBody bytes each; a larger body
// is encoded every time.
const (
	bodySlots     = 1024 // a power of two
	maxCachedBody = 8 << 10
)

type bodyCache struct {
	slots [bodySlots]atomic.Pointer[bodyEntry]
}

// bodyEntry is what one answer's head and tail were encoded from, and their bytes.
type bodyEntry struct {
	reasons    policy.ReasonsKey
	key        string
	domain     string
	profile    string
	result     policy.Result
	level      string
	match      []string
	servername string
	source     policy.Source
	message    string
	sts        policy.STSPolicy
	would      policy.Would
	hasWould   bool
	reply      string
	dane       *policy.DANEHosts // immutable once published (policy.DANEHosts)

	head, tail []byte
}

// slot returns the slot of profile and key (FNV-1a over both, a zero byte between).
func (c *bodyCache) slot(profile, key string) *atomic.Pointer[bodyEntry] {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(profile); i++ {
		h = (h ^ uint64(profile[i])) * prime
	}
	h *= prime // the zero byte
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	return &c.slots[h&(bodySlots-1)]
}

// newBodyEntry records what d's body is encoded from; head and tail are set by the caller.
func newBodyEntry(d *policy.Decision, reply string, rk policy.ReasonsKey) *bodyEntry {
	e := &bodyEntry{reasons: rk, key: d.Key, domain: d.Domain, profile: d.Profile, result: d.Result,
		level: d.Level, match: d.Match, servername: d.Servername, source: d.Source, message: d.Message,
		sts: d.STS, reply: reply}
	e.dane = daneHosts(d)
	if d.Would != nil {
		e.would, e.hasWould = *d.Would, true
	}
	return e
}

// encodes says whether e's head and tail are those of d (with reply and reasons key rk).
func (e *bodyEntry) encodes(d *policy.Decision, reply string, rk policy.ReasonsKey) bool {
	return e.reasons == rk && e.key == d.Key && e.domain == d.Domain && e.profile == d.Profile &&
		e.result == d.Result && e.level == d.Level && slices.Equal(e.match, d.Match) &&
		e.servername == d.Servername && e.source == d.Source && e.message == d.Message &&
		e.sts.Equal(&d.STS) && e.hasWould == (d.Would != nil) && (d.Would == nil || e.would == *d.Would) &&
		e.reply == reply && e.dane == daneHosts(d)
}

// daneHosts is d.DANEHosts(), nil when there are none.
func daneHosts(d *policy.Decision) *policy.DANEHosts {
	hs, _ := d.DANEHosts()
	return hs
}

// appendBody appends the body of a 200 answer for d, whose socketmap reply is reply,
// through c. ok is false when d cannot be encoded (appendLive).
func (c *bodyCache) appendBody(b []byte, d *policy.Decision, reply string) (_ []byte, ok bool) {
	// The key is taken before anything is rendered (policy.Decision.ReasonsKey).
	rk, keyed := d.ReasonsKey()
	var slot *atomic.Pointer[bodyEntry]
	if keyed {
		slot = c.slot(d.Profile, d.Key)
		if e := slot.Load(); e != nil && e.encodes(d, reply, rk) {
			b = append(b, e.head...)
			if b, ok = appendLive(b, d); !ok {
				return b, false
			}
			return append(b, e.tail...), true
		}
	}
	start := len(b)
	b = appendHead(b, d, d.Reasons())
	headEnd := len(b)
	if b, ok = appendLive(b, d); !ok {
		return b, false
	}
	tailStart := len(b)
	b = appendTail(b, d, reply)
	if keyed && len(b)-start <= maxCachedBody {
		e := newBodyEntry(d, reply, rk)
		kept := make([]byte, 0, headEnd-start+len(b)-tailStart)
		kept = append(kept, b[start:headEnd]...)
		kept = append(kept, b[tailStart:]...)
		e.head, e.tail = kept[:headEnd-start:headEnd-start], kept[headEnd-start:]
		slot.Store(e)
	}
	return b, true
}
