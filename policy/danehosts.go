package policy

import (
	"strings"

	"github.com/mailtls/mailtls/dane"
)

// DANEHosts are the MX hosts a DANE answer rests on, as the DANE stage learnt them, for a
// front end whose MTA checks TLSA records itself but cannot look them up with DNSSEC (the
// HTTP API, for Haraka). The socketmap does not carry them: Postfix looks them up again.
type DANEHosts struct {
	// MXSecure is true when the MX RRset (or the secure denial that made the domain its
	// own implicit MX) validated: RFC 7672 §2.2.1 then makes these hosts the MX set. False
	// for "dane" on an insecure MX RRset (RFC 7672 §2.2.1 MAY), and for a host next-hop,
	// which has no MX RRset (NoMX).
	MXSecure bool
	NoMX     bool // a host next-hop: the one host, no MX lookup (RFC 7672 §2.2.2)
	// Hosts in MX preference order (equal preferences by name); at most
	// dane.Evaluator.MaxHosts of them.
	Hosts []DANEHost
}

// DANEHost is one MX host of a DANE answer.
type DANEHost struct {
	Name       string // MX host name, lower-case, without the trailing dot
	Preference uint16 // MX preference (RFC 5321 §5.1); 0 for an implicit MX and a host next-hop
	// TLSABase is the name whose TLSA RRset was used ("_<port>._tcp.<TLSABase>", RFC 7672
	// §2.2.2): the host name or, after a secure CNAME chain, its target; "" when none was
	// looked up.
	TLSABase string
	// State is what the host contributes: dane (a secure TLSA RRset with usable records),
	// dane-unusable (secure, none usable: TLS without authentication, RFC 7672 §3.1.3),
	// no-tlsa (insecure or denied, or insecure addresses), failed (a lookup failed).
	State dane.HostState
	// TLSA are the usable records of the host's secure TLSA RRset (RFC 7672 §3.1: DANE-TA
	// and DANE-EE with known selector and matching type); empty unless State is dane.
	TLSA []DANETLSA
}

// DANETLSA is one usable TLSA record (RFC 6698 §2.1).
type DANETLSA struct {
	Usage        uint8  // 2 DANE-TA or 3 DANE-EE (RFC 7218)
	Selector     uint8  // 0 full certificate, 1 SubjectPublicKeyInfo
	MatchingType uint8  // 0 exact, 1 SHA2-256, 2 SHA2-512
	Data         string // certificate association data, lower-case hex
}

// answersDANE reports whether o leads to a "dane" or "dane-only" answer (applyDANE), the
// only outcomes whose hosts are kept.
func answersDANE(o dane.Outcome) bool {
	switch o {
	case dane.DANEOnly, dane.DANE, dane.LookupFailed, dane.InsecureMXDANE:
		return true
	}
	return false
}

// Bounds on the TLSA records kept per outcome (issue 11: what a hostile domain may cost is
// bounded, and an outcome stays smaller than a DANE hot-store shard's share): a host's
// usable records beyond maxKeptTLSA, or beyond maxKeptTLSAHex hex digits of association
// data for the whole outcome (1 KiB of data), are not kept. Fewer records can only make a
// client that verifies against them stricter (a certificate matching only a dropped record
// is refused), never weaker. Real RRsets hold one to four "3 1 1" records of 64 digits; a
// full certificate (matching type 0) of over 1 KiB is never kept.
const (
	maxKeptTLSA    = 4
	maxKeptTLSAHex = 2 << 10
)

// daneHostsOf extracts what an API client needs from res: nil unless its outcome answers
// DANE.
func daneHostsOf(res *dane.Result) *DANEHosts {
	if !answersDANE(res.Outcome) {
		return nil
	}
	hs := &DANEHosts{MXSecure: res.MXSecure && !res.NoMX, NoMX: res.NoMX, Hosts: make([]DANEHost, len(res.Hosts))}
	budget := maxKeptTLSAHex
	for i, h := range res.Hosts {
		o := DANEHost{Name: strings.TrimSuffix(h.Name, "."), Preference: h.Preference,
			TLSABase: strings.TrimSuffix(h.TLSABase, "."), State: h.State}
		if h.State == dane.HostDANE {
			for _, t := range h.TLSA {
				if !t.Usable || len(o.TLSA) == maxKeptTLSA || len(t.Data) > budget {
					continue
				}
				budget -= len(t.Data)
				o.TLSA = append(o.TLSA, DANETLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: strings.ToLower(t.Data)})
			}
		}
		hs.Hosts[i] = o
	}
	return hs
}

// cost is what hs takes on the heap (an estimate, for the hot store's bound).
func (hs *DANEHosts) cost() int {
	if hs == nil {
		return 0
	}
	n := 40 + 64*len(hs.Hosts)
	for _, h := range hs.Hosts {
		n += textCost(h.Name) + textCost(h.TLSABase) + 24*len(h.TLSA)
		for _, t := range h.TLSA {
			n += textCost(t.Data)
		}
	}
	return n
}

// DANEHosts returns the MX hosts d's DANE answer rests on, with their usable TLSA records.
// ok is false unless d is an OK "dane" or "dane-only" answer of the DANE stage whose facts
// kept them (facts stored by a version before this one did not). The result is shared with
// the engine's cache: read, never modify.
func (d *Decision) DANEHosts() (_ *DANEHosts, ok bool) {
	if d.Result != OK || d.Source != SourceDANE || (d.Level != "dane" && d.Level != "dane-only") || d.daneHosts == nil {
		return nil, false
	}
	return d.daneHosts, true
}

// SetDANEHosts gives a decision built outside the engine (tests, front ends) the hosts
// DANEHosts returns; hs is kept, not copied.
func (d *Decision) SetDANEHosts(hs *DANEHosts) { d.daneHosts = hs }
