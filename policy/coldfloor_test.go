package policy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// coldFloor does, directly and with nothing else around it, the DNS and HTTPS work a
// cold decision of one domain family needs (conformance.md §2–§4), in the order the
// answers allow and with everything independent in parallel:
//
//	dane, neither: (MX → A of the MX host → TLSA) ‖ TXT _mta-sts
//	sts:           (MX → A of the MX host → TLSA) ‖ (TXT _mta-sts → A ‖ AAAA of
//	               mta-sts.<domain> → TCP, TLS and one GET on a new connection)
//	sts-nodane:    the second chain alone
//
// The DANE chain asks one address family: a secure A RRset with addresses decides that
// the host's addresses are secure (RFC 7672 §2.2), so AAAA adds nothing to the decision.
// The policy host's A and AAAA are both asked, as any dialer does to prefer IPv6
// (RFC 6724). Queries are plain miekg/dns exchanges over UDP with DO=1, one socket each,
// as a stub resolver sends them.
type coldFloor struct {
	server string
	ca     *tls.Config
	ip     string // the policy hosts' address, checked against the A answer
	dc     dns.Client
}

func (c *coldLab) newFloor() *coldFloor {
	return &coldFloor{server: c.DNS.Addr, ca: &tls.Config{RootCAs: c.CA.Pool()}, ip: c.IP, dc: dns.Client{Net: "udp"}}
}

// ask sends one query and returns the answer records of qtype; it fails tb on an error or
// a reply without the AD bit (every lab record is secure).
func (f *coldFloor) ask(tb testing.TB, name string, qtype uint16) []dns.RR {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.AuthenticatedData = true
	m.SetEdns0(1232, true)
	r, _, err := f.dc.ExchangeContext(context.Background(), m, f.server)
	if err != nil {
		tb.Errorf("floor: %s %s: %v", name, dns.TypeToString[qtype], err)
		return nil
	}
	if !r.AuthenticatedData {
		tb.Errorf("floor: %s %s: no AD bit", name, dns.TypeToString[qtype])
	}
	var out []dns.RR
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out
}

// daneChain asks the MX RRset of domain, the A RRset of its first MX host (the domain
// itself when it has no MX: RFC 5321 §5.1) and that host's TLSA RRset.
func (f *coldFloor) daneChain(tb testing.TB, domain string) {
	host := dns.Fqdn(domain)
	if mx := f.ask(tb, domain, dns.TypeMX); len(mx) > 0 {
		host = mx[0].(*dns.MX).Mx
	}
	if len(f.ask(tb, host, dns.TypeA)) == 0 {
		tb.Errorf("floor: no A for %s", host)
	}
	f.ask(tb, "_25._tcp."+host, dns.TypeTLSA)
}

// stsChain asks the TXT record, then the policy host's addresses, and fetches the policy
// over a new connection to the address found.
func (f *coldFloor) stsChain(tb testing.TB, domain string, fetch bool) {
	f.ask(tb, "_mta-sts."+domain, dns.TypeTXT)
	if !fetch {
		return
	}
	host := "mta-sts." + domain
	var a []dns.RR
	var wg sync.WaitGroup
	wg.Go(func() { f.ask(tb, host, dns.TypeAAAA) })
	a = f.ask(tb, host, dns.TypeA)
	wg.Wait()
	if len(a) == 0 || a[0].(*dns.A).A.String() != f.ip {
		tb.Fatalf("floor: A %s = %v, want %s", host, a, f.ip)
	}
	ip := a[0].(*dns.A).A.String()
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   f.ca,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(ip, "443"))
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + host + "/.well-known/mta-sts.txt")
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("floor GET: %s", resp.Status)
	}
}

// run does the floor work of one domain of the given family.
func (f *coldFloor) run(tb testing.TB, family, domain string) {
	switch family {
	case "sts-nodane":
		f.stsChain(tb, domain, true)
	case "sts", "dane", "neither":
		var wg sync.WaitGroup
		wg.Go(func() { f.daneChain(tb, domain) })
		f.stsChain(tb, domain, family == "sts")
		wg.Wait()
	default:
		panic(fmt.Sprintf("coldFloor: unknown family %q", family))
	}
}
