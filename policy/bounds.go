package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailtls/mailtls/mtasts"
)

// What one domain may cost the hot store. Hostile DNS data (TXT sets and TLSA floods of
// tens of kilobytes, thousands of MX hosts or addresses, a policy listing thousands of
// patterns) must not be kept whole: a few thousand such domains once took half a
// gigabyte. Every bound here either shortens an explanation, which no answer depends
// on, or makes the answer stricter than the whole data would, never weaker:
//   - TXT records kept for explanations (the record id was parsed from the whole set);
//   - reasons, failure texts and DANE explanations (text only);
//   - a policy's mx patterns (RFC 8461 §4.1): fewer patterns accept fewer MX hosts, so
//     Postfix refuses more servers, not fewer; a policy cut so, or whose text is over
//     maxPolicyTextBytes, keeps as text (TLSRPT's policy_string, RFC 8460 §4.4) the
//     canonical rendering of what it applies;
//   - the MX addresses ASN rules look at: a rule applies only if every address is in its
//     networks, so judging a subset can apply a rule the whole set would not (stricter)
//     but never fails one the whole set would pass.
const (
	maxTXTKept         = 4       // TXT strings kept of an _mta-sts RRset
	maxTextLen         = 512     // bytes of one TXT string, reason or error text
	maxPolicyMX        = 64      // mx patterns kept of one policy
	maxPolicyTextBytes = 8 << 10 // bytes of policy text lines kept
	maxDANEReasonBytes = 8 << 10 // bytes of one domain's DANE explanation
	mxMaxAddrs         = 16      // addresses kept per MX host for ASN rules
	defaultMaxBytes    = 1 << 30 // the hot stores' default budget (cache.max_bytes)
)

// clip shortens s to at most maxTextLen bytes, on a UTF-8 boundary, saying it did.
func clip(s string) string {
	if len(s) <= maxTextLen {
		return s
	}
	cut := maxTextLen - len("… (cut)")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (cut)"
}

// boundSTSRecord applies the per-domain bounds to r in place. A policy over them is
// replaced by a shortened copy (policies may be shared).
func boundSTSRecord(r *stsRecord) {
	over := len(r.TXT) > maxTXTKept
	for _, t := range r.TXT {
		over = over || len(t) > maxTextLen
	}
	if over {
		txt := make([]string, 0, maxTXTKept+1)
		for i, t := range r.TXT {
			if i == maxTXTKept {
				txt = append(txt, "… "+strconv.Itoa(len(r.TXT)-maxTXTKept)+" more TXT records not kept")
				break
			}
			txt = append(txt, clip(t))
		}
		r.TXT = txt
	}
	r.TXTReason, r.FailReason, r.DNSError = clip(r.TXTReason), clip(r.FailReason), clip(r.DNSError)
	r.Policy = boundPolicy(r.Policy)
}

// boundPolicy returns p, or, when p has more than maxPolicyMX patterns or more than
// maxPolicyTextBytes of text, a copy with its first maxPolicyMX patterns whose text is the
// canonical rendering of what it keeps (Lines nil): TLSRPT's policy_string then describes
// the policy as applied.
func boundPolicy(p *mtasts.Policy) *mtasts.Policy {
	if p == nil {
		return nil
	}
	text := 0
	for _, l := range p.Lines {
		text += len(l) + 1
	}
	if len(p.MX) <= maxPolicyMX && text <= maxPolicyTextBytes {
		return p
	}
	c := *p
	// Every string of a parsed policy is cut out of the body it read (tens of kilobytes
	// here): copies keep only themselves alive.
	c.MX = make([]string, min(len(p.MX), maxPolicyMX))
	for i := range c.MX {
		c.MX[i] = strings.Clone(p.MX[i])
	}
	c.Version, c.Mode, c.Lines = strings.Clone(p.Version), mtasts.Mode(strings.Clone(string(p.Mode))), nil
	return &c
}

// ownPolicy returns a fetched policy as the engine keeps it: bounded (boundPolicy), and
// with every string its own. The parser's strings are cut out of the body it read, so a
// kept "enforce" or pattern would otherwise hold the whole body alive: a policy padded
// with 60 KB of blank lines would cost 60 KB however little of it is kept.
func ownPolicy(p *mtasts.Policy) *mtasts.Policy {
	if p == nil {
		return nil
	}
	if q := boundPolicy(p); q != p {
		return q // a copy of its own already
	}
	c := *p
	c.Version, c.Mode = strings.Clone(p.Version), mtasts.Mode(strings.Clone(string(p.Mode)))
	c.MX = make([]string, len(p.MX))
	for i, s := range p.MX {
		c.MX[i] = strings.Clone(s)
	}
	if p.Lines != nil {
		c.Lines = make([]string, len(p.Lines))
		for i, s := range p.Lines {
			c.Lines[i] = strings.Clone(s)
		}
	}
	return &c
}

// boundReasons returns reasons within maxDANEReasonBytes, each line clipped, with a last
// line saying how many were left out.
func boundReasons(reasons []string) []string {
	total, long := 0, false
	for _, r := range reasons {
		total += len(r)
		long = long || len(r) > maxTextLen
	}
	if !long && total <= maxDANEReasonBytes {
		return reasons
	}
	var out []string
	n := 0
	for j, r := range reasons {
		c := clip(r)
		if n+len(c) > maxDANEReasonBytes {
			return append(out, "… "+strconv.Itoa(len(reasons)-j)+" more reasons not kept (per-domain limit)")
		}
		out = append(out, c)
		n += len(c)
	}
	return out
}

// boundAddrs keeps at most mxMaxAddrs of one host's addresses (see the bounds above).
func boundAddrs(ips []netip.Addr) []netip.Addr {
	if len(ips) > mxMaxAddrs {
		return ips[:mxMaxAddrs:mxMaxAddrs]
	}
	return ips
}

// HotStoreBytes is what the hot stores hold, as their entries' estimated cost: MTA-STS
// states with the replies rendered from them, DANE outcomes and MX addresses (for
// metrics; cache.max_bytes bounds their sum).
func (e *Engine) HotStoreBytes() (sts, dane, mx int64) {
	return e.sts.Bytes() + e.tlsrpt.Bytes(), e.dane.Bytes(), e.mx.Bytes()
}

// Estimated heap costs of the hot stores' entries: what the map slot, the structs and the
// strings they own take. Shared data (policies many domains publish) is counted for each,
// so the estimate errs high.
const (
	slotCost = 64 // map slot (the key's hash and the value) with the map's own overhead, rounded up
)

func strsCost(ss []string) int {
	n := 24 + 16*len(ss) // slice header and string headers
	for _, s := range ss {
		n += textCost(s)
	}
	return n
}

// textCost is what a string's bytes take on the heap: the allocator rounds them up to its
// size classes (by up to an eighth, above the smallest classes).
func textCost(s string) int { return len(s) + len(s)/8 }

// stsEntryCost is what an MTA-STS hot-store entry costs: its state and the policy it holds
// with the plain reply rendered from it (a policy many domains share is counted for each).
func stsEntryCost(key string, st *stsState) int {
	n := slotCost + len(key) + 80 + len(st.RecordID)
	if d := st.detail; d != nil {
		n += 200 + len(d.policyID) + strsCost(d.txt) + len(d.url) + len(d.txtReason) + len(d.failedID) +
			len(d.failType) + len(d.failReason) + len(d.dnsError)
	}
	p := st.Policy
	if p == nil {
		return n
	}
	// heldPolicy, its report-only Would, the patterns' backing array and the reply they
	// are cut from
	n += 64 + 32 + 16*len(p.MX) + textCost(p.reply)
	if x := p.x; x != nil {
		n += 80 + strsCost(x.lines) + len(x.mode) + len(x.version)
		if x.match != nil { // a match list of its own, the wildcard patterns strings of their own
			n += 16 * len(x.match)
			for _, mx := range p.MX {
				n += textCost(mx)
			}
		}
	}
	return n
}

// tlsrptReplyCost is what a kept reply with TLSRPT attributes costs.
func tlsrptReplyCost(key string, r *tlsrptReply) int {
	return slotCost + len(key) + 48 + textCost(r.would.Reply)
}

// daneEntryCost is what a DANE hot-store entry costs.
func daneEntryCost(key string, en *daneEntry) int {
	n := slotCost + len(key) + 32
	if st := en.state.Load(); st != nil {
		n += 72 + strsCost(st.Reasons) + st.hosts.cost()
	}
	return n
}

// mxStateCost is what an MX-address hot-store entry costs.
func mxStateCost(key string, st *mxState) int {
	return slotCost + len(key) + 80 + strsCost(st.Hosts) + 24*len(st.Addrs) + len(st.Err)
}
