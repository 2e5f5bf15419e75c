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
	"github.com/mailtls/mailtls/internal/growstack"
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

// applyASN answers from the strongest ASN rule whose networks hold every address of the
// servers Postfix will connect to for nh, and reports whether one did: the domain's MX
// hosts, or for a host next-hop ("[host]", "[host]:port") the host itself, with no MX
// lookup (conformance.md §1). It runs only when neither DANE nor MTA-STS decided.
func (e *Engine) applyASN(dl *answerDeadline, d *Decision, nh *Nexthop) bool {
	rs := e.asnRules.Load()
	if rs == nil || len(rs.Rules) == 0 {
		return false
	}
	st := e.mxFacts(dl, nh)
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

// mxFacts returns the addresses of nh's servers (its domain's MX hosts, or the host of a
// host next-hop), from the hot store or looked up once for all concurrent callers. A host
// next-hop's facts are kept under its canonical key ("[host]", "[host]:587"), apart from
// the MX set of the domain of the same name.
func (e *Engine) mxFacts(dl *answerDeadline, nh *Nexthop) *mxState {
	key := mxKey(nh)
	if st, ok := e.mx.Get(key); ok && e.now().Before(st.Expires) {
		return st
	}
	ctx := dl.context()
	domain, host := nh.Domain, nh.Host
	ch := e.flight.DoChan("mx:"+key, func() (any, error) {
		growstack.Grow()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timers.Load().FetchTimeout)
		defer cancel()
		st := e.lookupMX(wctx, domain, host)
		e.mx.Set(key, st)
		return st, nil
	})
	select {
	case r := <-ch:
		return r.Val.(*mxState)
	case <-ctx.Done():
		return nil
	}
}

// mxKey names nh's server addresses in the hot store: the domain, or for a host next-hop
// its canonical key.
func mxKey(nh *Nexthop) string {
	if nh.Host {
		return nh.DANEKey
	}
	return nh.Domain
}

// lookupMX looks up the addresses of domain's MX hosts, or with host of domain itself (a
// host next-hop: Postfix does no MX lookup).
func (e *Engine) lookupMX(ctx context.Context, domain string, host bool) *mxState {
	now := e.now()
	fail := func(err error) *mxState {
		return &mxState{Err: err.Error(), Expires: now.Add(mxFailureTTL)}
	}
	var hosts []string
	ttl := uint32(mxTTLMax / time.Second)
	if host {
		hosts = []string{domain + "."}
	} else {
		res, err := e.opt.Resolver.Lookup(ctx, domain, dns.TypeMX)
		if err != nil {
			return fail(err)
		}
		ttl = res.TTL
		for _, rr := range res.Records {
			if mx, ok := rr.(*dns.MX); ok && mx.Mx != "." {
				hosts = append(hosts, strings.ToLower(mx.Mx))
			}
		}
		if res.Rcode == dns.RcodeSuccess && len(res.Records) == 0 {
			hosts = []string{domain + "."} // implicit MX (RFC 5321 §5.1)
		}
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
