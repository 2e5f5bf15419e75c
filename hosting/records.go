package hosting

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// TTLs of the published records: the TXT record carrying the id is short-lived so that a
// new id reaches senders quickly (they refetch the policy when it changes, RFC 8461 §3.1);
// the host records change rarely.
const (
	idTXTTTL = 300
	hostTTL  = 3600
)

// RecordOptions say how the policy host is reached and where TLS reports go.
type RecordOptions struct {
	Address []string // A/AAAA targets for mta-sts.<domain>
	CNAME   string   // or a CNAME target
	TLSRPT  string   // rua of the _smtp._tls record (RFC 8460 §3); "" for none
}

// Records returns the DNS records domain needs for policy p, in zone-file syntax: the
// policy host's address or CNAME, "_mta-sts.<domain> TXT v=STSv1; id=<id>" (RFC 8461
// §3.1) and, with TLS reporting configured, "_smtp._tls.<domain> TXT v=TLSRPTv1; rua=…"
// (RFC 8460 §3).
func Records(p *Policy, o RecordOptions) ([]dns.RR, error) {
	var out []dns.RR
	host := dns.Fqdn("mta-sts." + p.Domain)
	hdr := func(name string, t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	switch {
	case o.CNAME != "":
		out = append(out, &dns.CNAME{Hdr: hdr(host, dns.TypeCNAME, hostTTL), Target: dns.Fqdn(o.CNAME)})
	default:
		for _, a := range o.Address {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", a, err)
			}
			if ip.Is4() {
				out = append(out, &dns.A{Hdr: hdr(host, dns.TypeA, hostTTL), A: ip.AsSlice()})
			} else {
				out = append(out, &dns.AAAA{Hdr: hdr(host, dns.TypeAAAA, hostTTL), AAAA: ip.AsSlice()})
			}
		}
	}
	if p.Err != "" {
		return nil, fmt.Errorf("%s: no policy to publish an id for: %s", p.Domain, p.Err)
	}
	out = append(out, &dns.TXT{Hdr: hdr(dns.Fqdn("_mta-sts."+p.Domain), dns.TypeTXT, idTXTTTL),
		Txt: []string{"v=STSv1; id=" + p.ID}})
	if o.TLSRPT != "" {
		out = append(out, &dns.TXT{Hdr: hdr(dns.Fqdn("_smtp._tls."+p.Domain), dns.TypeTXT, hostTTL),
			Txt: []string{"v=TLSRPTv1; rua=" + o.TLSRPT}})
	}
	return out, nil
}

// WriteRecords writes a commented zone-file block for p.
func WriteRecords(w io.Writer, p *Policy, o RecordOptions) error {
	rrs, err := Records(p, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "; %s: mode %s, max_age %d, mx %s (%s)\n", p.Domain, p.Mode, p.MaxAge, mxSummary(p.MX), p.Source)
	if len(o.Address) == 0 && o.CNAME == "" {
		fmt.Fprintf(w, "; mta-sts.%s: point it (A/AAAA or CNAME) at this host; set hosting.address or hosting.cname to print it\n", p.Domain)
	}
	for _, rr := range rrs {
		fmt.Fprintln(w, rr.String())
	}
	return nil
}

func mxSummary(mx []string) string {
	if len(mx) == 0 {
		return "(none)"
	}
	return strings.Join(mx, " ")
}
