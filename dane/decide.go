package dane

import "fmt"

// tally counts hosts by state.
type tally struct {
	dane, unusable, noTLSA, failed int
}

func count(hosts []Host) tally {
	var t tally
	for i := range hosts {
		switch hosts[i].State {
		case HostDANE:
			t.dane++
		case HostDANEUnusable:
			t.unusable++
		case HostFailed:
			t.failed++
		default:
			t.noTLSA++
		}
	}
	return t
}

// decideSecure applies the secure-MX rows of conformance.md §3 to the examined hosts.
// truncated says that more MX hosts exist than were examined (Evaluator.MaxHosts).
func decideSecure(hosts []Host, truncated bool) (Outcome, string) {
	t := count(hosts)
	n := len(hosts)
	switch {
	case n > 0 && t.dane == n && !truncated:
		return DANEOnly, fmt.Sprintf("every MX host (%d) has secure addresses and a secure TLSA RRset with a usable record: DANE is mandatory (RFC 7672 §2.2)", n)
	case n > 0 && t.dane == n:
		// Hosts beyond MaxHosts were not examined, so "every host" is unproven; "dane"
		// still makes Postfix authenticate each host that has TLSA.
		return DANE, fmt.Sprintf("the %d MX hosts examined have usable TLSA, the rest were not examined: DANE per host", n)
	case t.dane+t.unusable > 0:
		// Hosts whose secure TLSA RRset has no usable record count as DANE hosts: RFC 7672
		// §2.2 and §3.1.3 make TLS mandatory for them, without authentication, and Postfix
		// does exactly that for such an RRset at level "dane". They cannot support
		// "dane-only", which would make Postfix demand authentication it cannot perform.
		return DANE, fmt.Sprintf("%d of %d MX hosts have a secure TLSA RRset (%d with usable records, %d with none usable), %d without, %d failed: DANE per host (RFC 7672 §2.2)",
			t.dane+t.unusable, n, t.dane, t.unusable, t.noTLSA, t.failed)
	case t.failed > 0:
		return LookupFailed, fmt.Sprintf("%d of %d MX hosts could not be looked up and none was proven to have TLSA: Postfix must repeat the host lookups (RFC 7672 §2.1.2)",
			t.failed, n)
	default:
		return NoDANE, fmt.Sprintf("no MX host has secure TLSA (%d examined): DANE does not apply", n)
	}
}

// decideInsecure applies the insecure-MX rows of conformance.md §3: only a host with a
// secure usable TLSA RRset matters (RFC 7672 §2.2.1 MAY).
func decideInsecure(hosts []Host) (Outcome, string) {
	t := count(hosts)
	if t.dane > 0 {
		return InsecureMXDANE, fmt.Sprintf("MX RRset insecure, but %d of %d MX hosts have secure usable TLSA: DANE MAY be used (RFC 7672 §2.2.1)",
			t.dane, len(hosts))
	}
	return NoDANE, fmt.Sprintf("MX RRset insecure and no MX host has secure usable TLSA (%d examined): DANE does not apply", len(hosts))
}

// decideHost applies conformance.md §1 and §3 to a host next-hop ("[host]", "[host]:port"):
// the host alone decides, as every MX host does for a secure MX RRset (RFC 7672 §2.2.2).
func decideHost(h Host) (Outcome, string) {
	switch h.State {
	case HostDANE:
		return DANEOnly, "the host has secure addresses and a secure TLSA RRset with a usable record: DANE is mandatory (RFC 7672 §2.2)"
	case HostDANEUnusable:
		return DANE, "the host's secure TLSA RRset has no usable record: TLS is mandatory without authentication (RFC 7672 §3.1.3)"
	case HostFailed:
		return LookupFailed, "the host's address or TLSA lookup failed: Postfix must repeat it (RFC 7672 §2.1.2)"
	}
	return NoDANE, "the host has no secure TLSA RRset: DANE does not apply"
}
