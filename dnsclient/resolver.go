// Package dnsclient is mailtls's DNSSEC-aware stub resolver: it asks the configured
// validating recursive resolvers (with the DO bit and EDNS0), trusts the AD bit only from
// them (RFC 6698 §4.1, RFC 7672 §2.1), follows CNAME chains with a loop limit, keeps TTLs,
// falls back to the next server on timeout or refusal and to TCP on truncation.
//
// The MTA-STS stage, the DANE stage and the policy-host dialer all resolve through one
// Client, so every name mailtls uses is answered by the same trusted resolver.
package dnsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// Resolver is what the protocol packages need from DNS. *Client implements it; tests may
// substitute any implementation.
type Resolver interface {
	// Lookup asks for qtype at name, following CNAMEs. A name that does not exist
	// (NXDOMAIN) or has no records of that type (NODATA) is not an error: it is a Result
	// with Rcode dns.RcodeNameError or with no Records. Failures that leave the answer
	// unknown (SERVFAIL — which a validating resolver also returns for bogus data —,
	// timeouts, REFUSED from every server, malformed replies) are errors matching
	// ErrServFail, ErrTimeout, ErrRefused, ErrTransport or ErrMalformed through errors.Is.
	Lookup(ctx context.Context, name string, qtype uint16) (*Result, error)
}

// Result is one answered question, after CNAMEs were followed.
type Result struct {
	Question string   // FQDN asked, lower-case, with trailing dot
	Name     string   // owner name of the final answer after CNAMEs (FQDN, lower-case)
	CNAMEs   []string // the CNAME targets followed, in order; empty if none
	Records  []dns.RR // answer records of the asked type at Name
	Rcode    int      // dns.RcodeSuccess or dns.RcodeNameError
	// Secure is true when every response the answer rests on (each CNAME step and the
	// final answer or denial) carried the AD bit from a configured validating resolver.
	Secure bool
	// TTL is the smallest TTL the answer rests on: the records and CNAMEs followed, or for
	// a negative answer the SOA negative TTL (RFC 2308 §5), in seconds.
	TTL    uint32
	Server string // the server that gave the final answer
}

// Sentinel errors; LookupError wraps one of them.
var (
	ErrServFail = errors.New("SERVFAIL")
	ErrTimeout  = errors.New("timeout")
	ErrRefused  = errors.New("refused") // REFUSED rcode, or the connection was refused
	// ErrTransport: the exchange failed for another reason than a timeout or a refusal
	// (connection reset, unreachable network, short read).
	ErrTransport = errors.New("transport error")
	ErrMalformed = errors.New("malformed response")
	ErrCNAMELoop = errors.New("CNAME chain too long or looping")
)

// LookupError says which question failed and why.
type LookupError struct {
	Name string
	Type uint16
	Err  error // one of the sentinels above, possibly wrapping a transport error
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("dns %s %s: %v", dns.TypeToString[e.Type], e.Name, e.Err)
}

func (e *LookupError) Unwrap() error { return e.Err }
