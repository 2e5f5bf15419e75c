package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/internal/jsonenc"
	"github.com/mailtls/mailtls/policy"
)

// The reference encoding of a 200 answer: the Response struct through encoding/json, as
// the handler answered before it encoded by hand (and as clients in Go decode it).

// newResponse describes d, whose socketmap reply is reply.
func newResponse(d *policy.Decision, reply string) *Response {
	r := &Response{
		NextHop: d.Key, Domain: d.Domain, Profile: d.Profile, Result: d.Result, Level: d.Level,
		Match: d.Match, Servername: d.Servername, Source: d.Source, Message: d.Message,
		Reasons: d.Reasons(), Expires: d.Expires, CacheHit: d.CacheHit,
		Would: d.Would, PostfixReply: reply,
	}
	if r.Reasons == nil {
		r.Reasons = []string{}
	}
	if !r.Expires.IsZero() {
		r.Expires = r.Expires.UTC()
	}
	if p := &d.STS; !p.IsZero() {
		lines := p.PolicyLines()
		r.MTASTS = &STSPolicy{Domain: p.Domain, ID: p.ID, Mode: p.Mode, MaxAge: p.MaxAge, MX: p.MX, Lines: lines}
		r.TLSRPT = &TLSRPT{PolicyType: "sts", PolicyDomain: p.Domain, PolicyString: lines, MXHostPattern: p.MX}
	}
	if hs, ok := d.DANEHosts(); ok {
		r.DANE = &DANE{MXSecure: hs.MXSecure, NoMX: hs.NoMX, Hosts: []DANEHost{}}
		for _, h := range hs.Hosts {
			o := DANEHost{Name: h.Name, Preference: h.Preference, TLSABase: h.TLSABase, State: h.State.String()}
			for _, t := range h.TLSA {
				o.TLSA = append(o.TLSA, TLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: t.Data})
			}
			r.DANE.Hosts = append(r.DANE.Hosts, o)
		}
	}
	return r
}

// daneDecision is a dane answer with hosts named name: one with usable records of each
// usage, selector and matching type, one without TLSA, one whose lookups failed.
func daneDecision(name string, level string) *policy.Decision {
	d := &policy.Decision{Key: name, Domain: name, Profile: "haraka", Result: policy.OK, Level: level, Source: policy.SourceDANE,
		Expires: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	d.SetDANEHosts(&policy.DANEHosts{MXSecure: true, Hosts: []policy.DANEHost{
		{Name: "mx1." + name, Preference: 10, TLSABase: "mx1." + name, State: dane.HostDANE, TLSA: []policy.DANETLSA{
			{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("0f", 32)},
			{Usage: 2, Selector: 0, MatchingType: 2, Data: strings.Repeat("a0", 64)},
			{Usage: 3, Selector: 0, MatchingType: 0, Data: "30" + name},
		}},
		{Name: "mx2." + name, Preference: 65535, State: dane.HostNoTLSA},
		{Name: name, TLSABase: "target." + name, State: dane.HostFailed},
	}})
	return d
}

func referenceBody(d *policy.Decision, reply string) ([]byte, error) {
	b, err := json.Marshal(newResponse(d, reply))
	return append(b, '\n'), err
}

// decisions are hand-built decisions covering every field of the body: each result, each
// optional part present and absent, and tricky text (escapes, control characters,
// invalid UTF-8, Unicode and IDN names, HTML-special characters) in every string.
func decisions() []*policy.Decision {
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	sts := policy.STSPolicy{Domain: "bücher.example", ID: "20261101T000000", Mode: "enforce", MaxAge: 604800,
		MX:    []string{"mx.xn--bcher-kva.example", "*.mail.bücher.example"},
		Lines: []string{"version: STSv1", "mode: enforce", "mx: mx.xn--bcher-kva.example", "mx: *.mail.bücher.example", "max_age: 604800"}}
	var out []*policy.Decision
	for i, s := range jsonenc.TrickyStrings() {
		out = append(out,
			&policy.Decision{Key: s, Domain: s, Profile: s, Result: policy.Perm, Source: policy.Source(s), Message: s},
			&policy.Decision{Key: "[" + s + "]:25", Profile: "postfix", Result: policy.Result(s), Level: s, Match: []string{s, s + "x"},
				Servername: s, Source: policy.SourceOverride, Expires: time.Unix(1767225600+int64(i), int64(i)*1e6).In(loc),
				Would: &policy.Would{Reply: s, Source: policy.Source(s)}, STS: policy.STSPolicy{Domain: s, ID: s, Mode: s, MX: []string{s}, Lines: []string{s}}},
		)
		d := &policy.Decision{Key: "example.com", Domain: "example.com", Profile: "rpt", Result: policy.Temp,
			Source: policy.SourceDeadline, Message: "the answer deadline passed: " + s, CacheHit: i%2 == 0}
		d.SetReasons([]string{s, "second " + s})
		out = append(out, d)
	}
	ok := &policy.Decision{Key: "Bücher.Example.", Domain: "xn--bcher-kva.example", Profile: "postfix", Result: policy.OK, Level: "secure",
		Match: []string{"mx.xn--bcher-kva.example", ".mail.xn--bcher-kva.example"}, Servername: "hostname",
		Source: policy.SourceMTASTS, STS: sts, Expires: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), CacheHit: true, TLSRPT: true}
	ok.SetReasons([]string{"TXT _mta-sts.xn--bcher-kva.example: \"v=STSv1; id=20261101T000000;\" → id 20261101T000000"})
	noLines := &policy.Decision{Key: "a.example", Result: policy.OK, Level: "secure", Source: policy.SourceMTASTS,
		STS: policy.STSPolicy{Domain: "a.example", Mode: "testing"}}
	dry := &policy.Decision{Key: "a.example", Domain: "a.example", Profile: "dry", Result: policy.NotFound, Source: policy.SourceReportOnly,
		Would: &policy.Would{Reply: "OK secure match=mx.a.example servername=hostname", Source: policy.SourceMTASTS}}
	empty := &policy.Decision{}
	empty.SetReasons([]string{})
	out = append(out, ok, noLines, dry, empty, &policy.Decision{Key: "x", Expires: time.Unix(0, 1)})
	for _, s := range jsonenc.TrickyStrings() {
		out = append(out, daneDecision(s, "dane"))
	}
	relay := &policy.Decision{Key: "[relay.example]:587", Result: policy.OK, Level: "dane-only", Source: policy.SourceDANE}
	relay.SetDANEHosts(&policy.DANEHosts{NoMX: true, Hosts: []policy.DANEHost{{Name: "relay.example", TLSABase: "relay.example", State: dane.HostDANEUnusable}}})
	noHosts := &policy.Decision{Key: "a.example", Result: policy.OK, Level: "dane-only", Source: policy.SourceDANE}
	noHosts.SetDANEHosts(&policy.DANEHosts{MXSecure: true})
	// Hosts on an answer that is not an OK dane answer of the DANE stage are not shown.
	notDANE := daneDecision("b.example", "secure")
	return append(out, relay, noHosts, notDANE, daneDecision("c.example", "dane-only"))
}

// The hand-written body is byte for byte the reference encoding, for every decision,
// on the first answer (encoded and kept) and on the next (from the kept head and tail),
// also when only the live fields change in between; and it is valid JSON.
func TestBodyMatchesReflection(t *testing.T) {
	var c bodyCache
	for i, d := range decisions() {
		reply := fmt.Sprintf("reply %d %q", i, d.Key)
		for round := range 3 {
			if round == 2 { // the same facts, answered again later from the store
				d.CacheHit = !d.CacheHit
				d.Expires = d.Expires.Add(time.Hour + time.Nanosecond)
			}
			want, err := referenceBody(d, reply)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.appendBody([]byte("prefix"), d, reply)
			if !ok || string(got[len("prefix"):]) != string(want) {
				t.Fatalf("decision %d round %d (ok %v):\n got %s\nwant %s", i, round, ok, got[len("prefix"):], want)
			}
			var back Response
			if err := json.Unmarshal(got[len("prefix"):], &back); err != nil {
				t.Fatalf("decision %d: %v", i, err)
			}
		}
	}
}

// A kept body is never given for a decision that differs in anything it shows: a decision
// differing from the kept one in a single field is encoded afresh.
func TestBodyCacheChanges(t *testing.T) {
	base := func() *policy.Decision {
		return &policy.Decision{Key: "k.example", Domain: "k.example", Profile: "p", Result: policy.OK, Level: "secure",
			Match: []string{"mx.k.example"}, Servername: "hostname", Source: policy.SourceMTASTS, Message: "",
			STS: policy.STSPolicy{Domain: "k.example", ID: "1", Mode: "enforce", MX: []string{"mx.k.example"}}}
	}
	keep := base().STS
	changes := map[string]func(d *policy.Decision){
		"domain":     func(d *policy.Decision) { d.Domain = "other.example" },
		"result":     func(d *policy.Decision) { d.Result = policy.Temp },
		"level":      func(d *policy.Decision) { d.Level = "dane" },
		"match":      func(d *policy.Decision) { d.Match = []string{"mx.k.example", "mx2.k.example"} },
		"servername": func(d *policy.Decision) { d.Servername = "" },
		"source":     func(d *policy.Decision) { d.Source = policy.SourceOverride },
		"message":    func(d *policy.Decision) { d.Message = "m" },
		"sts":        func(d *policy.Decision) { d.STS = policy.STSPolicy{Domain: "k.example", ID: "2", Mode: "enforce"} },
		"would":      func(d *policy.Decision) { d.Would = &policy.Would{Reply: "OK", Source: policy.SourceDANE} },
		"reasons":    func(d *policy.Decision) { d.SetReasons([]string{"changed"}) },
	}
	for name, change := range changes {
		var c bodyCache
		d := base()
		d.STS = keep
		if _, ok := c.appendBody(nil, d, "OK secure"); !ok {
			t.Fatal("not encoded")
		}
		if e := c.slot(d.Profile, d.Key).Load(); e == nil || !e.encodes(d, "OK secure", mustKey(t, d)) {
			t.Fatalf("%s: the first body was not kept", name)
		}
		change(d)
		got, _ := c.appendBody(nil, d, "OK secure")
		want, _ := referenceBody(d, "OK secure")
		if string(got) != string(want) {
			t.Errorf("%s changed, the kept body was given:\n got %s\nwant %s", name, got, want)
		}
	}
	var c bodyCache
	d := base()
	c.appendBody(nil, d, "OK secure")
	got, _ := c.appendBody(nil, d, "OK secure match=x")
	if want, _ := referenceBody(d, "OK secure match=x"); string(got) != string(want) {
		t.Errorf("reply changed, the kept body was given: %s", got)
	}
}

// A kept body is not given for a dane answer whose hosts are another value.
func TestBodyCacheDANEHosts(t *testing.T) {
	var c bodyCache
	d := daneDecision("k.example", "dane-only")
	first, _ := c.appendBody(nil, d, "OK dane-only")
	if e := c.slot(d.Profile, d.Key).Load(); e == nil || !e.encodes(d, "OK dane-only", mustKey(t, d)) {
		t.Fatal("the first body was not kept")
	}
	if !strings.Contains(string(first), `"tlsa":[{"usage":3,"selector":1,"matching_type":1,"data":"0f0f`) {
		t.Errorf("no TLSA records in %s", first)
	}
	d.SetDANEHosts(&policy.DANEHosts{MXSecure: true, Hosts: []policy.DANEHost{{Name: "other.k.example", State: dane.HostNoTLSA}}})
	got, _ := c.appendBody(nil, d, "OK dane-only")
	want, _ := referenceBody(d, "OK dane-only")
	if string(got) != string(want) || string(got) == string(first) {
		t.Errorf("the hosts changed, the kept body was given:\n got %s\nwant %s", got, want)
	}
}

func mustKey(t *testing.T, d *policy.Decision) policy.ReasonsKey {
	t.Helper()
	k, ok := d.ReasonsKey()
	if !ok {
		t.Fatal("no reasons key")
	}
	return k
}

// The encoder and the kept entries know every field of a decision: a field added to
// policy.Decision, STSPolicy or Would must be added to body.go and bodycache.go (and
// openapi.yaml) before this test passes again.
func TestEncoderKnowsEveryField(t *testing.T) {
	for typ, known := range map[reflect.Type][]string{
		reflect.TypeFor[policy.Decision](): {"Key", "Domain", "Profile", "Result", "Level", "Match", "Servername",
			"Source", "Message", "STS", "Would", "TLSRPT", "Expires", "CacheHit"},
		reflect.TypeFor[policy.STSPolicy](): {"Domain", "ID", "Mode", "MaxAge", "MX", "Lines"},
		reflect.TypeFor[policy.Would]():     {"Reply", "Source"},
		reflect.TypeFor[Response]():         {"NextHop", "Domain", "Profile", "Result", "Level", "Match", "Servername", "Source", "Message", "Reasons", "Expires", "CacheHit", "MTASTS", "TLSRPT", "DANE", "Would", "PostfixReply"},
	} {
		var fields []string
		for f := range typ.Fields() {
			if f.IsExported() {
				fields = append(fields, f.Name)
			}
		}
		if !slices.Equal(fields, known) {
			t.Errorf("%v has fields %q; the encoder knows %q", typ, fields, known)
		}
	}
}
