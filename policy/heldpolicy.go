package policy

import (
	"strings"
	"sync/atomic"

	"github.com/mailtls/mailtls/mtasts"
)

// heldPolicy is an MTA-STS policy as the hot store holds it: immutable, shared by every
// domain that publishes an equal policy (policyTable), and packed, since a million domains
// are held at once. It keeps the plain reply it answers with (RFC 8461 §4 as Postfix takes
// it), which depends on the policy alone, rendered when the policy is packed, so a cached
// answer renders nothing; the mx patterns that are also match patterns (all but "*."
// wildcards) are cut out of that reply rather than stored twice. What most policies do
// not have — wildcard patterns, a text other than the canonical one (canonicalLines), a
// mode or version the parser does not give — lives in x, nil in the common case. A
// million-domain store's own-MX policies cost about 200 bytes each, reply included
// (BenchmarkHotStoreEntryBytes).
type heldPolicy struct {
	MX     []string              // the mx patterns as published (RFC 8461 §3.2)
	reply  string                // "OK secure match=… servername=hostname"; "" for mode none
	x      *heldExtra            // nil unless the policy has what it describes
	would  atomic.Pointer[Would] // the reply as a report-only answer records it, on first use
	MaxAge uint32
	mode   uint8 // modeEnforce, modeTesting, modeNone or modeOther (x.mode)
}

// heldExtra holds what few policies have.
type heldExtra struct {
	match   []string    // the Postfix match list, when a pattern is a wildcard (else MX)
	lines   []string    // the policy text, when it is not canonicalLines of the fields
	mode    mtasts.Mode // when not one of the three modes RFC 8461 §3.2 defines
	version string      // when not mtasts.PolicyVersion
}

// Codes of heldPolicy.mode.
const (
	modeEnforce uint8 = iota
	modeTesting
	modeNone
	modeOther
)

// packPolicy packs p (not modified) into a new heldPolicy. Its strings are copies: the
// held policy keeps nothing of p alive.
func packPolicy(p *mtasts.Policy) *heldPolicy {
	h := &heldPolicy{MaxAge: p.MaxAge}
	var x heldExtra
	extra := false
	switch p.Mode {
	case mtasts.ModeEnforce:
		h.mode = modeEnforce
	case mtasts.ModeTesting:
		h.mode = modeTesting
	case mtasts.ModeNone:
		h.mode = modeNone
	default:
		h.mode, x.mode, extra = modeOther, mtasts.Mode(strings.Clone(string(p.Mode))), true
	}
	if p.Version != mtasts.PolicyVersion {
		x.version, extra = strings.Clone(p.Version), true
	}
	if p.Lines != nil && !linesCanonical(p) {
		// nil Lines stand for the canonical text
		x.lines, extra = make([]string, len(p.Lines)), true
		for i, l := range p.Lines {
			x.lines[i] = constLine(strings.Clone(l))
		}
	}
	// The match list is the mx patterns in Postfix syntax; the reply spells it out, and
	// patterns equal to their match pattern are cut out of the reply.
	wild := false
	for _, mx := range p.MX {
		wild = wild || postfixMatch(mx) != mx
	}
	var match []string
	if len(p.MX) > 0 {
		match = make([]string, len(p.MX))
	}
	for i, mx := range p.MX {
		match[i] = postfixMatch(mx)
	}
	if h.mode != modeNone || len(match) > 0 {
		d := Decision{Result: OK, Level: "secure", Match: match, Servername: "hostname"}
		h.reply = strings.Clone(d.PostfixReply()) // exactly its length, not the builder's capacity
		off := len("OK secure match=")
		if len(match) == 0 {
			off = len(h.reply)
		}
		for i, m := range match {
			match[i] = h.reply[off : off+len(m)]
			off += len(m) + 1
		}
	}
	h.MX = match
	if wild {
		x.match, extra = match, true
		h.MX = make([]string, len(p.MX))
		for i, mx := range p.MX {
			if mx == match[i] {
				h.MX[i] = match[i]
			} else {
				h.MX[i] = strings.Clone(mx)
			}
		}
	}
	if extra {
		h.x = &x
	}
	return h
}

// Mode is the policy's mode (RFC 8461 §5).
func (h *heldPolicy) Mode() mtasts.Mode {
	switch h.mode {
	case modeEnforce:
		return mtasts.ModeEnforce
	case modeTesting:
		return mtasts.ModeTesting
	case modeNone:
		return mtasts.ModeNone
	}
	return h.x.mode
}

// version is the policy's version field.
func (h *heldPolicy) version() string {
	if h.x != nil && h.x.version != "" {
		return h.x.version
	}
	return mtasts.PolicyVersion
}

// Lines is the policy text as received, or nil when it is canonicalLines of the fields.
func (h *heldPolicy) Lines() []string {
	if h.x == nil {
		return nil
	}
	return h.x.lines
}

// match is the Postfix match list: the mx patterns with "*." wildcards written ".".
func (h *heldPolicy) match() []string {
	if h.x != nil && h.x.match != nil {
		return h.x.match
	}
	return h.MX
}

// wouldReply is the plain reply as a report-only answer records it, made on first use.
func (h *heldPolicy) wouldReply() *Would {
	if w := h.would.Load(); w != nil {
		return w
	}
	w := &Would{Reply: h.reply, Source: SourceMTASTS}
	if h.would.CompareAndSwap(nil, w) {
		return w
	}
	return h.would.Load()
}

// policy unpacks h into a new mtasts.Policy (Lines nil for the canonical text), for the
// refresh code, the store's encoding and explanations; its slices are h's, read-only.
func (h *heldPolicy) policy() *mtasts.Policy {
	return &mtasts.Policy{Version: h.version(), Mode: h.Mode(), MaxAge: h.MaxAge, MX: h.MX, Lines: h.Lines()}
}

// equal reports whether h holds the policy p; canonical says whether p's text is
// canonicalLines of its fields (or nil, standing for them).
func (h *heldPolicy) equal(p *mtasts.Policy, canonical bool) bool {
	if h.MaxAge != p.MaxAge || h.Mode() != p.Mode || h.version() != p.Version || !equalStrings(h.MX, p.MX) {
		return false
	}
	if l := h.Lines(); l != nil {
		return !canonical && equalStrings(l, p.Lines)
	}
	return canonical
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
