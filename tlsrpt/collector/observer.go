package collector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/tlsrpt"
)

// maxObservationInfo bounds the additional-information text of an observation.
const maxObservationInfo = 200

// Observer turns the resolver's own MTA-STS fetch failures into report entries for the
// domains that publish a TLSRPT record (RFC 8460 §4.3.2.2): a failed session under the
// domain's sts policy with the failure's result type. It implements policy.STSObserver:
// STSFetchFailed only queues (never blocks); the TLSRPT record is looked up on the
// observer's own goroutine.
type Observer struct {
	c        *Collector
	resolver dnsclient.Resolver
	queue    chan observation
	timeout  time.Duration
}

type observation struct{ domain, resultType, reason string }

// NewObserver returns an observer feeding c, looking TLSRPT records up through r. Run
// it with Run.
func NewObserver(c *Collector, r dnsclient.Resolver) *Observer {
	return &Observer{c: c, resolver: r, queue: make(chan observation, 256), timeout: 10 * time.Second}
}

// STSFetchFailed queues one failure; when the queue is full it is dropped and counted.
func (o *Observer) STSFetchFailed(domain, resultType, reason string) {
	select {
	case o.queue <- observation{domain, resultType, reason}:
	default:
		o.c.m.rejected.WithLabelValues("queue_full").Inc()
	}
}

// Run handles queued failures until ctx ends.
func (o *Observer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ob := <-o.queue:
			o.handle(ctx, ob)
		}
	}
}

func (o *Observer) handle(ctx context.Context, ob observation) {
	rt := tlsrpt.ResultType(ob.resultType)
	switch rt {
	case tlsrpt.STSPolicyFetchError, tlsrpt.STSPolicyInvalid, tlsrpt.STSWebPKIInvalid:
	default:
		return
	}
	lctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	record, err := LookupRecord(lctx, o.resolver, ob.domain)
	if err != nil {
		o.c.log.Debug("tlsrpt: no TLSRPT record for an MTA-STS failure", "domain", ob.domain, "err", err)
		return
	}
	info := printable(ob.reason)
	if len(info) > maxObservationInfo {
		info = info[:maxObservationInfo]
	}
	o.c.Observe(SessionsFor(strings.ToLower(strings.TrimSuffix(ob.domain, ".")), record, rt, info))
}

// LookupRecord returns the single TLSRPT record published at _smtp._tls.<domain> (RFC
// 8460 §3), or an error when there is none or more than one, or it has no usable rua.
func LookupRecord(ctx context.Context, r dnsclient.Resolver, domain string) (string, error) {
	name := "_smtp._tls." + strings.TrimSuffix(domain, ".") + "."
	res, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return "", fmt.Errorf("tlsrpt: TXT lookup %s: %w", name, err)
	}
	var txts []string
	for _, rr := range res.Records {
		if t, ok := rr.(*dns.TXT); ok {
			txts = append(txts, strings.Join(t.Txt, ""))
		}
	}
	rec, err := tlsrpt.SelectRecord(txts)
	if err != nil {
		return "", err
	}
	if _, err := tlsrpt.ParseRecord(rec); err != nil {
		return "", err
	}
	return rec, nil
}
