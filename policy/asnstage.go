package policy

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/asn"
	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dnsclient"
)

// ASNRules hold the operator's ASN rules and the database they look addresses up in.
// Immutable once built; SetASNRules replaces them.
type ASNRules struct {
	DB    asn.DB
	Rules []ASNRule

	hostname []string // {"hostname"}, the match list of verify and secure answers
}

// ASNRule requires at least Level for domains whose every MX address is in ASNs.
type ASNRule struct {
	Name  string
	ASNs  map[uint32]bool
	Level string // encrypt, verify or secure
}

// ASNRulesFromConfig builds the rules over db.
func ASNRulesFromConfig(db asn.DB, rules []config.ASNRule) *ASNRules {
	rs := &ASNRules{DB: db, hostname: []string{"hostname"}}
	for _, r := range rules {
		set := map[uint32]bool{}
		for _, a := range r.ASNs {
			set[a] = true
		}
		rs.Rules = append(rs.Rules, ASNRule{Name: r.Name, ASNs: set, Level: r.Level})
	}
	return rs
}

// asnRank orders the levels an ASN rule can require.
func asnRank(level string) int {
	switch level {
	case "encrypt":
		return 1
	case "verify":
		return 2
	case "secure":
		return 3
	}
	return 0
}

// mxState is the addresses of one domain's MX hosts, cached for the bounded minimum TTL.
type mxState struct {
	Hosts   []string
	Addrs   []netip.Addr
	Err     string
	Expires time.Time
}

// Bounds on caching MX addresses for ASN rules.
const (
	mxTTLMin     = time.Minute
	mxTTLMax     = time.Hour
	mxMaxHosts   = 10
	mxFailureTTL = time.Minute
)

// applyASN answers from the strongest ASN rule whose networks hold every MX address of the
// domain, and reports whether one did. It runs only when neither DANE nor MTA-STS decided.
func (e *Engine) applyASN(dl *answerDeadline, d *Decision) bool {
	rs := e.asnRules.Load()
	if rs == nil || len(rs.Rules) == 0 {
		return false
	}
	st := e.mxFacts(dl, d.Domain)
	if st == nil {
		deadlinePassed(d) // a rule might have required more than the default
		return true
	}
	d.why.mx, d.why.asn = st, rs
	if len(st.Addrs) == 0 {
		if st.Err != "" {
			d.why.asnStep = asnUnknown
		}
		return false
	}
	// The AS numbers of a usual MX set fit on the stack.
	asns := make([]uint32, 0, 4*mxMaxHosts)
	for i, ip := range st.Addrs {
		a, ok := rs.DB.ASN(ip)
		if !ok {
			d.why.asnStep, d.why.asnAddr = asnNoAS, i
			return false
		}
		asns = append(asns, a)
	}
	var best *ASNRule
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if covers(r, asns) && (best == nil || asnRank(r.Level) > asnRank(best.Level)) {
			best = r
		}
	}
	if best == nil {
		d.why.asnStep = asnUncovered
		return false
	}
	d.Result, d.Level, d.Source = OK, best.Level, SourceASN
	if best.Level != "encrypt" {
		d.Match = hostnameMatch(rs) // the certificate must name the MX host
	}
	d.Expires = st.Expires
	d.why.asnStep, d.why.asnRule = asnMatched, best
	return true
}

// covers reports whether every one of asns is in r's networks.
func covers(r *ASNRule, asns []uint32) bool {
	for _, a := range asns {
		if !r.ASNs[a] {
			return false
		}
	}
	return true
}

// hostnameMatch is the match list of a verify or secure ASN answer, shared by every
// answer of rs when ASNRulesFromConfig built it.
func hostnameMatch(rs *ASNRules) []string {
	if rs.hostname != nil {
		return rs.hostname
	}
	return []string{"hostname"}
}

// mxFacts returns the domain's MX host addresses, from the hot store or looked up once for
// all concurrent callers.
func (e *Engine) mxFacts(dl *answerDeadline, domain string) *mxState {
	if st, ok := e.mx.Get(domain); ok && e.now().Before(st.Expires) {
		return st
	}
	ctx := dl.context()
	ch := e.flight.DoChan("mx:"+domain, func() (any, error) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timers.Load().FetchTimeout)
		defer cancel()
		st := e.lookupMX(wctx, domain)
		e.mx.Set(domain, st)
		return st, nil
	})
	select {
	case r := <-ch:
		return r.Val.(*mxState)
	case <-ctx.Done():
		return nil
	}
}

func (e *Engine) lookupMX(ctx context.Context, domain string) *mxState {
	now := e.now()
	fail := func(err error) *mxState {
		return &mxState{Err: err.Error(), Expires: now.Add(mxFailureTTL)}
	}
	res, err := e.opt.Resolver.Lookup(ctx, domain, dns.TypeMX)
	if err != nil {
		return fail(err)
	}
	ttl := res.TTL
	var hosts []string
	for _, rr := range res.Records {
		if mx, ok := rr.(*dns.MX); ok && mx.Mx != "." {
			hosts = append(hosts, strings.ToLower(mx.Mx))
		}
	}
	if res.Rcode == dns.RcodeSuccess && len(res.Records) == 0 {
		hosts = []string{domain + "."} // implicit MX (RFC 5321 §5.1)
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if len(hosts) > mxMaxHosts {
		hosts = hosts[:mxMaxHosts]
	}
	st := &mxState{Hosts: hosts}
	for _, h := range hosts {
		a := dnsclient.LookupAddrs(ctx, e.opt.Resolver, h)
		if err := a.Err(); err != nil && len(a.IPs()) == 0 {
			return fail(fmt.Errorf("%s: %w", h, err))
		}
		for _, r := range []*dnsclient.Result{a.A, a.AAAA} {
			if r != nil && len(r.Records) > 0 {
				ttl = min(ttl, r.TTL)
			}
		}
		st.Addrs = append(st.Addrs, boundAddrs(a.IPs())...)
	}
	st.Expires = now.Add(bound(ttl, mxTTLMin, mxTTLMax))
	return st
}

func addrList(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, " ")
}
