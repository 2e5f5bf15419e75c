package mtasts

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
)

// RecordLookup is the outcome of looking up a domain's "_mta-sts" TXT record.
type RecordLookup struct {
	// Record is the domain's single MTA-STS record, or nil when the domain has no usable
	// one (RFC 8461 §3.1: none, several, or a syntactically invalid one).
	Record *Record
	// TXT holds every TXT record seen at the final name, strings concatenated.
	TXT []string
	// Name is the owner name of the final answer after CNAMEs (FQDN, lower-case).
	Name string
	// TTL is the smallest TTL the answer rests on (records, CNAMEs or negative TTL).
	TTL uint32
	// Secure is true when the resolver validated the whole answer (AD bit).
	Secure bool
	// NXDomain is true when the name does not exist.
	NXDomain bool
	// Reason says why Record is nil; empty when Record is set.
	Reason string
}

// LookupRecord asks r for the TXT records at "_mta-sts.<domain>" and picks the MTA-STS
// record (RFC 8461 §3.1). CNAMEs are followed by the resolver ("senders MUST follow the
// CNAME pointers"). Each record's character-strings are concatenated without spaces;
// records that do not begin with "v=STSv1;" are discarded; exactly one must remain and
// parse, else Record is nil and Reason says why.
//
// domain is an A-label host name without trailing dot. The error is non-nil only when DNS
// failed (SERVFAIL, bogus, timeout, refused, malformed); it wraps the resolver's error so
// errors.Is(err, dnsclient.ErrTimeout) and the like work.
func LookupRecord(ctx context.Context, r dnsclient.Resolver, domain string) (*RecordLookup, error) {
	name := "_mta-sts." + strings.TrimSuffix(domain, ".") + "."
	res, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, fmt.Errorf("mta-sts TXT lookup for %s: %w", domain, err)
	}
	out := &RecordLookup{Name: res.Name, TTL: res.TTL, Secure: res.Secure}
	if res.Rcode == dns.RcodeNameError {
		out.NXDomain = true
		out.Reason = "no TXT records: " + name + " does not exist"
		return out, nil
	}
	var candidates []string
	for _, rr := range res.Records {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		// RFC 8461 §3.1: "treated as if those strings are concatenated without adding spaces".
		s := strings.Join(t.Txt, "")
		out.TXT = append(out.TXT, s)
		if isCandidate(s) {
			candidates = append(candidates, s)
		}
	}
	switch {
	case len(out.TXT) == 0:
		out.Reason = "no TXT records"
	case len(candidates) == 0:
		out.Reason = fmt.Sprintf("no %s record among %d TXT records", RecordVersion, len(out.TXT))
	case len(candidates) > 1:
		out.Reason = fmt.Sprintf("%d %s records: must be exactly one", len(candidates), RecordVersion)
	default:
		rec, err := ParseRecord(candidates[0])
		if err != nil {
			out.Reason = err.Error()
			return out, nil
		}
		out.Record = rec
	}
	return out, nil
}
