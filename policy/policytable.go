package policy

import (
	"hash/maphash"
	"strconv"
	"sync/atomic"

	"github.com/mailtls/mailtls/mtasts"
)

// policyTableSize is the number of slots of an engine's policyTable (a power of two).
const policyTableSize = 1 << 14

// policyTable shares equal policies between domains: domains hosted by one provider
// publish the same policy, and the hot store holds it (with its rendered reply) once. It
// is a direct-mapped cache keyed by a hash of the policy's content: a slot holds the last
// policy packed whose content hashed there, so the table's size is fixed (policyTableSize
// pointers) whatever the number of policies, and a policy many domains use is found again
// almost always (it loses its slot only to another policy hashing there between two of
// its domains). A miss only costs a copy of an equal policy. Safe for concurrent use; the
// hash seed is the table's own, so slots cannot be aimed at from outside.
type policyTable struct {
	seed  maphash.Seed
	slots []atomic.Pointer[heldPolicy]
}

func newPolicyTable() *policyTable {
	return &policyTable{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[heldPolicy], policyTableSize)}
}

// held returns the held policy equal to p: prev when it is, else the table's, else p
// packed (and remembered). p is not modified and nothing of it is kept.
func (t *policyTable) held(p *mtasts.Policy, prev *heldPolicy) *heldPolicy {
	canonical := p.Lines == nil || linesCanonical(p)
	if prev != nil && prev.equal(p, canonical) {
		return prev
	}
	slot := &t.slots[t.hash(p, canonical)&(policyTableSize-1)]
	if h := slot.Load(); h != nil && h.equal(p, canonical) {
		return h
	}
	h := packPolicy(p)
	slot.Store(h)
	return h
}

// hash is the hash of what equal compares: the fields and, unless canonical, the text.
func (t *policyTable) hash(p *mtasts.Policy, canonical bool) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	var num [12]byte
	h.WriteString(p.Version)
	h.WriteByte(0)
	h.WriteString(string(p.Mode))
	h.WriteByte(0)
	h.Write(strconv.AppendUint(num[:0], uint64(p.MaxAge), 10))
	for _, mx := range p.MX {
		h.WriteByte(0)
		h.WriteString(mx)
	}
	if !canonical {
		h.WriteByte(1)
		for _, l := range p.Lines {
			h.WriteString(l)
			h.WriteByte(0)
		}
	}
	return h.Sum64()
}
