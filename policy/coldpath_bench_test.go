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
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/mtasts"
)

// coldLab is the in-process lab behind the cold-path benchmark and test: DNS with a
// per-reply delay and an HTTPS policy host, and an engine with the DANE stage on (the
// default) resolving through them.
type coldLab struct {
	*lab.Lab
	dc      *dnsclient.Client
	fetcher *mtasts.Fetcher
	ev      *dane.Evaluator
	eng     *Engine
	noDANE  *Engine // the same without the DANE stage (profile dane: off)
	n       int
}

func newColdLab(tb testing.TB, delay time.Duration) *coldLab {
	l := lab.New(tb)
	l.DNS.SetDelay(delay)
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{l.DNS.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	fetcher := mtasts.NewFetcher(mtasts.FetcherConfig{Dial: dc.DialContext, RootCAs: l.CA.Pool()})
	ev := &dane.Evaluator{Resolver: dc}
	eng, err := New(Options{Resolver: dc, Fetcher: fetcher, DANE: ev})
	if err != nil {
		tb.Fatal(err)
	}
	noDANE, err := New(Options{Resolver: dc, Fetcher: fetcher})
	if err != nil {
		tb.Fatal(err)
	}
	return &coldLab{Lab: l, dc: dc, fetcher: fetcher, ev: ev, eng: eng, noDANE: noDANE}
}

// domain publishes a never-seen domain of the given kind and returns it with the reply
// the engine must give:
//
//	sts:     MTA-STS enforce, one MX without TLSA (DANE looks and finds nothing usable)
//	dane:    one MX with a TLSA record, no MTA-STS
//	neither: an address record only (implicit MX, RFC 5321 §5.1), no TLSA, no MTA-STS
func (c *coldLab) domain(kind string) (string, string) {
	c.n++
	d := fmt.Sprintf("%s%d.example", kind, c.n)
	mx := "mx." + d
	switch kind {
	case "sts":
		c.DNS.Add(d+". 300 IN MX 10 "+mx+".", mx+". 300 IN A 192.0.2.1")
		c.STS(d, "1", lab.Policy("enforce", 86400, mx))
		return d, "OK secure match=" + mx + " servername=hostname"
	case "dane":
		c.DNS.Add(d+". 300 IN MX 10 "+mx+".", mx+". 300 IN A 192.0.2.1",
			"_25._tcp."+mx+". 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		return d, "OK dane-only"
	default:
		c.DNS.Add(d + ". 300 IN A 192.0.2.1")
		return d, "NOTFOUND "
	}
}

// floor is the lab's unavoidable time for a cold MTA-STS answer, measured with the same
// DNS server and policy host: one DNS round trip (the TXT record) and one HTTPS GET on a
// new connection (TCP and TLS handshakes included), one after the other.
func (c *coldLab) floor(tb testing.TB, domain string) {
	if _, err := c.dc.Lookup(context.Background(), "_mta-sts."+domain, dns.TypeTXT); err != nil {
		tb.Fatal(err)
	}
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{RootCAs: c.CA.Pool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(c.IP, "443"))
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://mta-sts." + domain + "/.well-known/mta-sts.txt")
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("floor GET: %s", resp.Status)
	}
}

// BenchmarkColdPath answers never-seen domains of each kind (MTA-STS, DANE, neither) with
// every DNS reply delayed as given, and reports per cold answer: the time, the DNS queries
// and the HTTPS policy fetches it cost. "floor" is the lab's unavoidable time for an
// MTA-STS answer (one DNS round trip, then a TLS handshake and GET), measured in the same
// run, to read the "sts" figure against; "sts-nodane" is the same domain kind answered by
// an engine without the DANE stage, whose MX → address → TLSA chain otherwise runs beside
// the MTA-STS one and can be the longer. Root is needed (the policy host listens on :443):
//
//	go test -run '^$' -bench ColdPath -benchtime 200x ./policy
func BenchmarkColdPath(b *testing.B) {
	for _, delay := range []time.Duration{0, 2 * time.Millisecond} {
		c := newColdLab(b, delay)
		ctx := context.Background()
		b.Run(fmt.Sprintf("delay=%v/floor", delay), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				d, _ := c.domain("sts")
				b.StartTimer()
				c.floor(b, d)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/answer")
		})
		for _, kind := range []string{"sts", "sts-nodane", "dane", "neither"} {
			eng, domainKind := c.eng, kind
			if kind == "sts-nodane" {
				eng, domainKind = c.noDANE, "sts"
			}
			b.Run(fmt.Sprintf("delay=%v/%s", delay, kind), func(b *testing.B) {
				var queries, fetches int
				for b.Loop() {
					b.StopTimer()
					d, want := c.domain(domainKind)
					q0 := c.DNS.Queries()
					b.StartTimer()
					got := eng.Resolve(ctx, plain, d)
					b.StopTimer()
					if r := got.PostfixReply(); r != want {
						b.Fatalf("%s: %q, want %q", d, r, want)
					}
					queries += c.DNS.Queries() - q0
					fetches += c.Fetches(d)
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/answer")
				b.ReportMetric(float64(queries)/float64(b.N), "dns/answer")
				b.ReportMetric(float64(fetches)/float64(b.N), "https/answer")
			})
		}
	}
}

// Issue 6 on the lab (real DNS server, real HTTPS policy host): 50 concurrent identical
// cold queries cost exactly one policy fetch and one TXT query, and all get the policy.
func TestColdPathCoalescesOnLab(t *testing.T) {
	c := newColdLab(t, 20*time.Millisecond)
	d, want := c.domain("sts")
	c.SetDelay(d, 100*time.Millisecond) // keep the first fetch in flight while the others arrive
	var wg sync.WaitGroup
	replies := make([]string, 50)
	for i := range replies {
		wg.Go(func() { replies[i] = c.eng.Resolve(context.Background(), plain, d).PostfixReply() })
	}
	wg.Wait()
	for i, r := range replies {
		if r != want {
			t.Fatalf("reply %d = %q, want %q", i, r, want)
		}
	}
	if n := c.Fetches(d); n != 1 {
		t.Errorf("policy fetches = %d, want exactly 1", n)
	}
	if n := c.DNS.QueryCount("_mta-sts."+d+".", dns.TypeTXT); n != 1 {
		t.Errorf("TXT queries = %d, want exactly 1", n)
	}
}
