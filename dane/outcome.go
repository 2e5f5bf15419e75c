package dane

// Outcome is what the DANE facts of a domain mean for its next-hop policy
// (conformance.md §3). The engine maps it to a socketmap answer.
type Outcome int

const (
	// NoDANE: continue with MTA-STS. The MX RRset is secure but every host was proven to
	// have no TLSA RRset or has insecure addresses, or the MX RRset is insecure and no host
	// has a secure usable TLSA RRset.
	NoDANE Outcome = iota
	// DANEOnly: the MX RRset (or the implicit MX) is secure and every MX host has secure
	// addresses and a secure TLSA RRset with at least one usable record → "dane-only".
	DANEOnly
	// DANE: the MX RRset is secure; some hosts have a secure TLSA RRset (usable or not),
	// others do not → "dane", Postfix applies DANE host by host.
	DANE
	// LookupFailed: the MX RRset is secure, some host's address or TLSA lookup failed and no
	// host was proven to have TLSA. The engine answers "dane" (Postfix repeats the host
	// lookups and skips or defers that host, RFC 7672 §2.1.2) or TEMP by profile option.
	LookupFailed
	// InsecureMXDANE: the MX RRset is insecure but some MX host has a secure usable TLSA
	// RRset. The engine may answer "dane" when no MTA-STS enforce policy applies
	// (RFC 7672 §2.2.1 MAY).
	InsecureMXDANE
	// TempFail: the MX RRset could not be determined (SERVFAIL, bogus, timeout): delivery
	// must wait (RFC 7672 §2.1.2) → TEMP.
	TempFail
	// NoMail: the domain does not exist or publishes a null MX (RFC 7505): neither DANE nor
	// MTA-STS applies.
	NoMail
)

var outcomeNames = [...]string{
	NoDANE:         "no-dane",
	DANEOnly:       "dane-only",
	DANE:           "dane",
	LookupFailed:   "lookup-failed",
	InsecureMXDANE: "insecure-mx-dane",
	TempFail:       "temp-fail",
	NoMail:         "no-mail",
}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + itoa(int(o)) + ")"
}

// HostState is what one MX host contributes to the Outcome.
type HostState int

const (
	// HostNoTLSA: the host's TLSA RRset was securely denied or is insecure, its addresses
	// are insecure (TLSA is only looked up behind secure addresses, RFC 7672 §2.2), or it
	// has no address records at all.
	HostNoTLSA HostState = iota
	// HostDANE: secure addresses and a secure TLSA RRset with at least one usable record.
	HostDANE
	// HostDANEUnusable: secure addresses and a secure TLSA RRset none of whose records is
	// usable: TLS is still mandatory, without authentication (RFC 7672 §2.2, §3.1.3).
	HostDANEUnusable
	// HostFailed: the address lookup (both families) or the TLSA lookup failed.
	HostFailed
)

var hostStateNames = [...]string{
	HostNoTLSA:       "no-tlsa",
	HostDANE:         "dane",
	HostDANEUnusable: "dane-unusable",
	HostFailed:       "failed",
}

func (s HostState) String() string {
	if s >= 0 && int(s) < len(hostStateNames) {
		return hostStateNames[s]
	}
	return "hoststate(" + itoa(int(s)) + ")"
}
