package dane

import (
	"net/netip"
	"strconv"
)

// Result holds the DANE facts of one domain and the Outcome they lead to.
type Result struct {
	Domain string // the domain asked, lower-case, without trailing dot
	Port   int    // the SMTP port whose TLSA records were asked
	// NoMX is set for a host next-hop ("[host]"): no MX RRset was asked, Hosts holds the
	// host itself (RFC 7672 §2.2.2).
	NoMX     bool
	Outcome  Outcome
	MXSecure bool // the MX RRset (or its secure denial, for an implicit MX) validated
	// Implicit is true when the domain has no MX RRset (secure NODATA) and is its own
	// implicit MX (RFC 5321 §5.1).
	Implicit bool
	Hosts    []Host // in MX preference order
	// TTL is the smallest TTL of the RRsets the outcome rests on (MX, addresses, TLSA, the
	// CNAMEs followed), in seconds; 0 when nothing was learnt (TempFail). The engine bounds
	// it before caching.
	TTL uint32
	// Reasons are the steps that led to Outcome, in order, for operators
	// (mailtls query --explain, audit log).
	Reasons []string
}

// Host is what was learnt about one MX host.
type Host struct {
	Name string // MX exchange as published (FQDN, lower-case)
	// Preference is the host's MX preference (RFC 5321 §5.1); 0 for an implicit MX and a
	// host next-hop.
	Preference uint16
	// Target is the TLSA base domain: the final name after CNAMEs when the whole chain is
	// secure (RFC 7672 §2.2.2, RFC 7671 §7), else Name.
	Target string
	// Addrs are the addresses of the families looked up: A, and AAAA only when A did not
	// settle whether the addresses are secure (see Evaluator.addresses).
	Addrs []Addr
	// AddrSecure is true when at least one address family answered securely with records;
	// a failed AAAA lookup next to a secure A (or the reverse) does not spoil the host.
	AddrSecure bool
	// AddrErr is set when no family answered with records and a lookup failed.
	AddrErr error
	// TLSABase is the name whose TLSA RRset was used ("_25._tcp.<base>"): Target, or Name
	// when Target had none (RFC 7672 §2.2.2). Empty when TLSA was not looked up.
	TLSABase   string
	TLSA       []TLSA // records found, secure or not
	TLSASecure bool
	TLSAErr    error // the TLSA lookup failed (SERVFAIL, bogus, timeout)
	State      HostState
}

// Addr is one address of an MX host.
type Addr struct {
	IP     netip.Addr
	Secure bool
}

// Usable counts the host's usable TLSA records.
func (h *Host) Usable() int {
	n := 0
	for _, t := range h.TLSA {
		if t.Usable {
			n++
		}
	}
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }
