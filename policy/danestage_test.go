package policy

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dane"
)

// fakeDANE returns a fixed outcome per domain and counts evaluations; the DNS-level rows of
// conformance.md §3 are tested in package dane, the engine's use of each outcome here.
type fakeDANE struct {
	mu       sync.Mutex
	outcomes map[string]dane.Outcome
	ttl      uint32
	waitFor  chan struct{} // if set, Evaluate waits (up to 5 s) for it to close
	parallel bool          // waitFor closed while Evaluate was running
	calls    int
	asked    []string // the destinations evaluated, as canonical keys
	// hosts are the MX hosts a destination's Result carries (nil: none), with a secure MX.
	hosts map[string][]dane.Host
}

// EvaluateDestination looks the destination up by its canonical next-hop key: the domain
// for an MX destination on port 25, else "[host]", "[host]:587", "domain:587".
func (f *fakeDANE) EvaluateDestination(ctx context.Context, dst dane.Destination) (*dane.Result, error) {
	domain := dst.Name
	if dst.Host {
		domain = "[" + domain + "]"
	}
	if dst.Port != 0 && dst.Port != 25 {
		domain += ":" + strconv.Itoa(dst.Port)
	}
	f.mu.Lock()
	f.calls++
	f.asked = append(f.asked, domain)
	o, ok := f.outcomes[domain]
	wait := f.waitFor
	f.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
			f.mu.Lock()
			f.parallel = true
			f.mu.Unlock()
		case <-time.After(5 * time.Second):
		}
	}
	if !ok {
		o = dane.NoDANE
	}
	f.mu.Lock()
	hosts := f.hosts[domain]
	f.mu.Unlock()
	return &dane.Result{Domain: domain, Outcome: o, TTL: f.ttl, Reasons: []string{"fake outcome " + o.String()},
		MXSecure: hosts != nil && o != dane.InsecureMXDANE, Hosts: hosts}, nil
}

func (f *fakeDANE) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func newDANEHarness(t *testing.T, outcomes map[string]dane.Outcome) (*harness, *fakeDANE) {
	h := newHarness(t, nil)
	fd := &fakeDANE{outcomes: outcomes, ttl: 300}
	h.eng.SetDANE(fd, "")
	return h, fd
}

// conformance.md §2–§3: how each DANE outcome combines with MTA-STS.
func TestDANEStage(t *testing.T) {
	enforce := policyText("enforce", 86400, "mx.example.com")
	tempProfile := &Profile{Name: "strict", DANE: true, DANELookupFailureTemp: true}
	noDANE := &Profile{Name: "nodane"}
	tests := []struct {
		name    string
		outcome dane.Outcome
		sts     string // policy body; "" = no MTA-STS
		profile *Profile
		want    string
		source  Source
	}{
		{"dane-only wins over an MTA-STS policy (RFC 8461 §2)", dane.DANEOnly, enforce, plain, "OK dane-only", SourceDANE},
		{"mixed hosts → dane", dane.DANE, "", plain, "OK dane", SourceDANE},
		{"MX lookup failure → TEMP (RFC 7672 §2.1.2)", dane.TempFail, enforce, plain, "TEMP", SourceDANE},
		{"NXDOMAIN / null MX → NOTFOUND, not MTA-STS", dane.NoMail, enforce, plain, "NOTFOUND ", SourceDANE},
		{"host lookup failed → dane by default", dane.LookupFailed, enforce, plain, "OK dane", SourceDANE},
		{"host lookup failed, dane_lookup_failure: temp → TEMP", dane.LookupFailed, enforce, tempProfile, "TEMP", SourceDANE},
		{"no DANE → MTA-STS decides", dane.NoDANE, enforce, plain, "OK secure match=mx.example.com servername=hostname", SourceMTASTS},
		{"no DANE, no MTA-STS → default", dane.NoDANE, "", plain, "NOTFOUND ", SourceDefault},
		{"insecure MX + STS enforce → MTA-STS", dane.InsecureMXDANE, enforce, plain, "OK secure match=mx.example.com servername=hostname", SourceMTASTS},
		{"insecure MX, no STS, secure TLSA host → dane (RFC 7672 §2.2.1)", dane.InsecureMXDANE, "", plain, "OK dane", SourceDANE},
		{"insecure MX, STS testing → dane", dane.InsecureMXDANE, policyText("testing", 600, "mx.example.com"), plain, "OK dane", SourceDANE},
		{"profile dane: off → MTA-STS even for a DANE domain", dane.DANEOnly, enforce, noDANE, "OK secure match=mx.example.com servername=hostname", SourceMTASTS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newDANEHarness(t, map[string]dane.Outcome{"example.com": tt.outcome})
			if tt.sts != "" {
				h.sts("example.com", "1", tt.sts)
			}
			d := h.resolve(tt.profile, "example.com")
			got := d.PostfixReply()
			if tt.want == "TEMP" {
				if d.Result != Temp || !strings.HasPrefix(got, "TEMP ") || strings.Contains(got, "MTA-STS") || len(got) < 20 {
					t.Errorf("got %q, want TEMP with its own reason", got)
				}
			} else if got != tt.want {
				t.Errorf("got %q, want %q\nreasons: %q", got, tt.want, d.Reasons())
			}
			if d.Source != tt.source {
				t.Errorf("source %s, want %s", d.Source, tt.source)
			}
		})
	}
}

// A cold lookup runs the DANE and MTA-STS chains in parallel (issue 3): the DANE evaluation
// is still running when the MTA-STS fetch starts. DANE outcomes are cached for their
// (bounded) TTL.
func TestDANECacheAndParallel(t *testing.T) {
	h, fd := newDANEHarness(t, map[string]dane.Outcome{"example.com": dane.DANEOnly})
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	fd.waitFor = make(chan struct{})
	h.fetch.onFetch = func() { close(fd.waitFor) }
	if d := h.resolve(plain, "example.com"); d.PostfixReply() != "OK dane-only" {
		t.Fatalf("cold lookup %q", d.PostfixReply())
	}
	if !fd.parallel {
		t.Error("the MTA-STS fetch did not start while DANE was being evaluated: the chains ran one after the other")
	}
	fd.waitFor, h.fetch.onFetch = nil, nil
	if d := h.resolve(plain, "example.com"); !d.CacheHit || d.PostfixReply() != "OK dane-only" {
		t.Errorf("second lookup: hit=%v %q", d.CacheHit, d.PostfixReply())
	}
	if fd.count() != 1 {
		t.Errorf("DANE evaluations = %d, want 1 (cached)", fd.count())
	}
	h.clock.Advance(301 * time.Second) // TTL 300 s
	h.resolve(plain, "example.com")
	if fd.count() != 2 {
		t.Errorf("DANE evaluations after TTL = %d, want 2", fd.count())
	}
}

// DANE outcomes of domains in use are re-evaluated in the background at 90% of their TTL,
// like MTA-STS policies, so lookups keep hitting the cache.
func TestDANERefresh(t *testing.T) {
	h, fd := newDANEHarness(t, map[string]dane.Outcome{"example.com": dane.DANEOnly})
	h.resolve(plain, "example.com")
	h.clock.Advance(100 * time.Second)
	h.resolve(plain, "example.com") // in use since the check
	h.clock.Advance(171 * time.Second)
	h.eng.RefreshDue(context.Background())
	if fd.count() != 2 {
		t.Fatalf("DANE evaluations = %d, want 2 (background refresh at 90%% of the 300 s TTL)", fd.count())
	}
	h.clock.Advance(100 * time.Second) // past the first TTL, within the refreshed one
	if d := h.resolve(plain, "example.com"); !d.CacheHit || d.Level != "dane-only" {
		t.Errorf("after the refresh: hit=%v %q", d.CacheHit, d.PostfixReply())
	}
}

// When the answer deadline passes with the DANE outcome unknown, the answer is TEMP, not
// the MTA-STS policy: MTA-STS must not stand in for a DANE answer that might fail.
func TestDeadlineWithDANEUnknown(t *testing.T) {
	h, fd := newDANEHarness(t, map[string]dane.Outcome{"example.com": dane.DANEOnly})
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	fd.waitFor = make(chan struct{}) // never closed: Evaluate takes 5 s
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if d := h.eng.Resolve(ctx, plain, "example.com"); d.Result != Temp || d.Source != SourceDeadline {
		t.Errorf("DANE unknown at the deadline: %q (%s), want TEMP", d.PostfixReply(), d.Source)
	}
}

// A dane or dane-only answer carries the MX hosts its outcome rests on with their usable
// TLSA records only (RFC 7672 §3.1.3), for the HTTP API; a hit gives the same; an answer
// of any other source carries none.
func TestDANEHostsKept(t *testing.T) {
	h, fd := newDANEHarness(t, map[string]dane.Outcome{"example.com": dane.DANE, "sts.example": dane.NoDANE, "insecure.example": dane.InsecureMXDANE})
	spki := strings.Repeat("ab", 32)
	fd.hosts = map[string][]dane.Host{
		"example.com": {
			{Name: "mx1.example.com.", Preference: 10, TLSABase: "mx1.example.com.", TLSASecure: true, State: dane.HostDANE, TLSA: []dane.TLSA{
				{Usage: 3, Selector: 1, MatchingType: 1, Data: spki, Usable: true},
				{Usage: 1, Selector: 1, MatchingType: 1, Data: spki, Usable: false},
			}},
			{Name: "mx2.example.com.", Preference: 20, TLSABase: "mx2.example.com.", State: dane.HostNoTLSA},
		},
		"sts.example":      {{Name: "mx.sts.example.", State: dane.HostNoTLSA}},
		"insecure.example": {{Name: "mx.insecure.example.", State: dane.HostDANE, TLSA: []dane.TLSA{{Usage: 2, Selector: 0, MatchingType: 2, Data: spki, Usable: true}}}},
	}
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx.sts.example"))
	want := &DANEHosts{MXSecure: true, Hosts: []DANEHost{
		{Name: "mx1.example.com", Preference: 10, TLSABase: "mx1.example.com", State: dane.HostDANE, TLSA: []DANETLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: spki}}},
		{Name: "mx2.example.com", Preference: 20, TLSABase: "mx2.example.com", State: dane.HostNoTLSA},
	}}
	for _, hit := range []bool{false, true} {
		d := h.resolve(plain, "example.com")
		got, ok := d.DANEHosts()
		if d.CacheHit != hit || !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("hit=%v: DANEHosts() = %+v, %v; want %+v", d.CacheHit, got, ok, want)
		}
	}
	d := h.resolve(plain, "insecure.example")
	if got, ok := d.DANEHosts(); !ok || got.MXSecure || len(got.Hosts) != 1 || got.Hosts[0].TLSA[0].Usage != 2 {
		t.Errorf("insecure MX: %q DANEHosts() = %+v, %v", d.PostfixReply(), got, ok)
	}
	d = h.resolve(plain, "sts.example")
	if got, ok := d.DANEHosts(); ok || d.Source != SourceMTASTS {
		t.Errorf("MTA-STS answer %q carries DANE hosts %+v", d.PostfixReply(), got)
	}
}
