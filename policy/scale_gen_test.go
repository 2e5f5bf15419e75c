package policy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/mtasts"
)

// The scale store: domain i is scaleDomain(i). Four in five publish an enforce policy with
// two mx patterns and max_age 604800; every fifth has no MTA-STS record (NXDOMAIN), so the
// store holds 80% policies and 20% negative entries. Half the policies name the domain's
// own MX hosts, half a shared hosting provider's (one of scaleProviders), as real mail does.
const (
	scaleMaxAge    = 604800
	scaleTTL       = 3600 // TXT TTL: positive and negative answers stay fresh for an hour
	scaleProviders = 50
)

func scaleDomain(i int) string { return fmt.Sprintf("d%07d.scale.example", i) }

func scaleNegative(i int) bool { return i%5 == 4 }

// scaleMX is domain i's policy mx patterns, as published.
func scaleMX(i int) []string {
	d := scaleDomain(i)
	if i%2 == 0 {
		return []string{"mx1." + d, "mx2." + d}
	}
	p := strconv.Itoa(i % scaleProviders)
	return []string{"*.mx" + p + ".hosting.example", "backup" + p + ".hosting.example"}
}

// scaleReply is what the profile postfix must answer for domain i.
func scaleReply(i int) string {
	if scaleNegative(i) {
		return "NOTFOUND "
	}
	mx := scaleMX(i)
	for k := range mx {
		mx[k] = postfixMatch(mx[k])
	}
	return "OK secure match=" + strings.Join(mx, ":") + " servername=hostname"
}

// scaleID is domain i's MTA-STS record id.
func scaleID(i int) string { return "2026" + strconv.Itoa(1000000+i) }

// scaleIndex is the i of a scaleDomain name, or -1.
func scaleIndex(domain string) int {
	s, ok := strings.CutPrefix(domain, "d")
	if !ok {
		return -1
	}
	s, ok = strings.CutSuffix(s, ".scale.example")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return i
}

// scaleResolver answers the _mta-sts TXT questions of the scale domains in memory.
type scaleResolver struct{}

func (scaleResolver) Lookup(_ context.Context, name string, qtype uint16) (*dnsclient.Result, error) {
	res := &dnsclient.Result{Question: name, Name: name, TTL: scaleTTL, Server: "scale"}
	domain, ok := strings.CutPrefix(strings.TrimSuffix(name, "."), "_mta-sts.")
	i := scaleIndex(domain)
	if !ok || qtype != dns.TypeTXT || i < 0 || scaleNegative(i) {
		res.Rcode = dns.RcodeNameError
		return res, nil
	}
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: scaleTTL},
		Txt: []string{"v=STSv1; id=" + scaleID(i) + ";"}}
	res.Records = []dns.RR{txt}
	return res, nil
}

// scaleFetcher serves each scale domain's policy body, parsed by the real parser.
type scaleFetcher struct{}

func (scaleFetcher) Fetch(_ context.Context, domain string) (*mtasts.FetchResult, error) {
	i := scaleIndex(domain)
	if i < 0 || scaleNegative(i) {
		return nil, &mtasts.FetchError{Domain: domain, Type: mtasts.ResultFetchError, Err: fmt.Errorf("no policy host")}
	}
	body := []byte(policyText("enforce", scaleMaxAge, scaleMX(i)...))
	p, err := mtasts.ParsePolicy(body)
	if err != nil {
		return nil, err
	}
	return &mtasts.FetchResult{Policy: p, Body: body, URL: "https://mta-sts." + domain + "/.well-known/mta-sts.txt"}, nil
}

// scaleEngine is an engine on store with the scale data's resolver and fetcher, its hot
// store bounded to maxEntries (0: unbounded).
func scaleEngine(t testing.TB, store cache.Backend, maxEntries int) *Engine {
	t.Helper()
	eng, err := New(Options{Resolver: scaleResolver{}, Fetcher: scaleFetcher{}, Backend: store, MaxEntries: maxEntries})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// generateScaleStore fills the store at path with n scale domains through the engine's own
// refresh path (TXT lookup, fetch, publish, store encoding, write-behind Put), flushing
// every chunk so the pending queue stays below its bound.
func generateScaleStore(t testing.TB, path string, n int) {
	t.Helper()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	generateScaleStoreOf(t, path, idx)
}

// generateScaleStoreOf is generateScaleStore for the scale domains idx.
func generateScaleStoreOf(t testing.TB, path string, idx []int) {
	t.Helper()
	n := len(idx)
	const chunk = 20000
	store, err := sqlitestore.Open(path, sqlitestore.Options{FlushInterval: time.Hour, MaxPending: 2 * chunk})
	if err != nil {
		t.Fatal(err)
	}
	eng := scaleEngine(t, store, 0)
	ctx := context.Background()
	const workers = 4
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for k := lo + w; k < hi; k += workers {
					i := idx[k]
					if st := eng.refreshSTS(ctx, scaleDomain(i), false); st == nil || (st.Policy == nil) != scaleNegative(i) {
						t.Errorf("generating %s: state %+v", scaleDomain(i), st)
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if err := store.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
}
