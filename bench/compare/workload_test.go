package compare

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/lab"
)

// Record TTLs: long enough that no cached answer of either daemon expires during a run.
const (
	ttl         = 86400 // every record
	negativeTTL = 3600  // NXDOMAIN and NODATA (mailtls caches "no MTA-STS" up to 1h)
)

// domain is one name of the workload and the answer both daemons must give for it.
type domain struct {
	name string
	want answer
}

// workload is the published domains: n MTA-STS enforce domains (every other one with a
// second, wildcard, mx pattern) and n without a policy, of which one in twenty does not
// exist at all (NXDOMAIN) and the rest have an MX host with an address and no TXT record
// at _mta-sts (NODATA). Every MX host has an address and no TLSA record, so DANE finds
// nothing and both daemons answer from MTA-STS alone.
type workload struct {
	sts, none []domain
}

func newWorkload(n int) workload {
	var w workload
	for i := range n {
		d := fmt.Sprintf("sts-%05d.example", i)
		want := answer{kind: "OK", level: "secure", match: []string{"mx." + d}}
		if i%2 == 1 {
			want.match = append(want.match, ".backup."+d)
		}
		slices.Sort(want.match)
		w.sts = append(w.sts, domain{d, want})
	}
	for i := range n {
		d := fmt.Sprintf("none-%05d.example", i)
		if i%20 == 0 {
			d = fmt.Sprintf("nx-%05d.example", i)
		}
		w.none = append(w.none, domain{d, answer{kind: "NOTFOUND"}})
	}
	return w
}

// publish puts the workload into the lab's DNS and policy hosts.
func (w workload) publish(l *lab.Lab) {
	l.DNS.SetNegativeTTL(negativeTTL)
	for i, d := range w.sts {
		l.DNS.Add(fmt.Sprintf("_mta-sts.%s. %d IN TXT \"v=STSv1; id=%d;\"", d.name, ttl, i+1),
			fmt.Sprintf("mta-sts.%s. %d IN A %s", d.name, ttl, l.IP))
		mxHost(l.DNS, d.name)
		mx := []string{"mx." + d.name}
		if i%2 == 1 {
			mx = append(mx, "*.backup."+d.name)
		}
		l.SetPolicy(d.name, lab.Policy("enforce", 86400, mx...))
	}
	for _, d := range w.none {
		if d.name[:3] != "nx-" {
			mxHost(l.DNS, d.name)
		}
	}
}

// mxHost gives domain one MX host, mx.<domain>, with a documentation address.
func mxHost(s *dnstest.Server, domain string) {
	s.Add(fmt.Sprintf("%s. %d IN MX 10 mx.%s.", domain, ttl, domain),
		fmt.Sprintf("mx.%s. %d IN A 192.0.2.25", domain, ttl))
}

// all is every domain, in a fixed shuffled order, so that each connection's slice of the
// key cycle mixes both kinds.
func (w workload) all() []domain {
	ds := slices.Concat(w.sts, w.none)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	return ds
}

func names(ds []domain) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.name
	}
	return out
}
