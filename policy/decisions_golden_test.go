package policy

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/internal/dnstest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/decisions.golden")

// goldenCase is one representative decision: its setup, the profile and the key.
type goldenCase struct {
	name    string
	profile *Profile
	key     string
	setup   func() // run before the case, if set
}

// goldenDecisions resolves each representative decision twice (the second from the hot
// store) and returns, per lookup, the Postfix reply and the decision's JSON, which carries
// the reasons.
func goldenDecisions(t *testing.T) string {
	h, fd := newDANEHarness(t, map[string]dane.Outcome{
		"dane.example": dane.DANEOnly, "mixed.example": dane.DANE, "temp.example": dane.TempFail,
		"nomail.example": dane.NoMail, "lookup.example": dane.LookupFailed, "insecure.example": dane.InsecureMXDANE,
	})
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx1.sts.example", "*.sts.example"))
	h.sts("dane.example", "7", policyText("enforce", 86400, "mx.dane.example"))
	h.sts("insecure.example", "2", policyText("enforce", 3600, "mx.insecure.example"))
	h.sts("testing.example", "3", policyText("testing", 86400, "mx.testing.example"))
	h.sts("none.example", "4", policyText("none", 86400, "mx.none.example"))
	h.setTXT("down.example", "v=STSv1; id=5;")
	h.fetch.setDown("down.example", true)
	h.dns.Add("nopolicy.example. 300 IN A 192.0.2.1")
	h.setTXT("servfail.example", "v=STSv1; id=6;")
	h.dns.SetMode("_mta-sts.servfail.example.", 0, dnstest.Refused)
	h.dns.Add(
		"big.example. 300 IN MX 10 mx1.big.example.", "big.example. 300 IN MX 20 mx2.big.example.",
		"mx1.big.example. 300 IN A 192.0.2.1", "mx2.big.example. 300 IN A 192.0.2.2",
		"v6.example. 300 IN MX 10 mx.v6.example.", "mx.v6.example. 300 IN AAAA 2001:db8::1",
		"wide.example. 300 IN MX 10 mx1.big.example.", "wide.example. 300 IN MX 20 mx.other.example.",
		"mx.other.example. 300 IN A 198.51.100.1",
		"far.example. 300 IN MX 10 mx.far.example.", "mx.far.example. 300 IN A 203.0.113.9",
		"broken.example. 300 IN MX 10 mx.broken.example.",
	)
	h.dns.SetMode("broken.example.", 0, dnstest.Bogus)
	asnRules := (ASNRulesFromConfig(fakeASN{"192.0.2.1": 64500, "192.0.2.2": 64500, "2001:db8::1": 64501, "198.51.100.1": 64999}, []config.ASNRule{
		{Name: "providers", ASNs: []uint32{64500, 64501}, Level: "encrypt"},
		{Name: "strict-provider", ASNs: []uint32{64501}, Level: "verify"},
	}))
	o, err := OverridesFromConfig([]config.Override{
		{Domain: "over.example", Level: "secure", Match: []string{"mx1.over.example", ".over.example"}},
		{Domain: "bank.example", Level: "fingerprint", Fingerprints: []string{testFP}},
		{Domain: "dry.example", Level: "encrypt", ReportOnly: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.eng.SetOverrides(o)
	dry := &Profile{Name: "dry", DANE: true, ReportOnly: true}
	dryTLSRPT := &Profile{Name: "dry-tlsrpt", DANE: true, ReportOnly: true, TLSRPT: true}
	noDANE := &Profile{Name: "nodane"}
	strict := &Profile{Name: "strict", DANE: true, DANELookupFailureTemp: true}
	cases := []goldenCase{
		{"sts enforce", plain, "sts.example", nil},
		{"sts enforce, TLSRPT", tlsrpt, "[sts.example]:25", nil},
		{"sts enforce, DANE off in the profile", noDANE, "sts.example", nil},
		{"negative", plain, "nopolicy.example", nil},
		{"sts testing", plain, "testing.example", nil},
		{"sts testing as enforce", testingEnf, "testing.example", nil},
		{"sts mode none", plain, "none.example", nil},
		{"sts fetch failed", plain, "down.example", nil},
		{"sts TXT lookup failed", plain, "servfail.example", nil},
		{"dane-only, MTA-STS also published", plain, "dane.example", nil},
		{"dane", plain, "mixed.example", nil},
		{"dane TEMP", plain, "temp.example", nil},
		{"dane no mail", plain, "nomail.example", nil},
		{"dane lookup failed", plain, "lookup.example", nil},
		{"dane lookup failed, TEMP profile", strict, "lookup.example", nil},
		{"insecure MX, MTA-STS decides", plain, "insecure.example", nil},
		{"override", plain, "over.example", nil},
		{"override fingerprint", tlsrpt, "bank.example", nil},
		{"override report-only rule", plain, "dry.example", nil},
		{"report-only profile, sts", dry, "sts.example", nil},
		{"report-only profile, sts, TLSRPT", dryTLSRPT, "sts.example", nil},
		{"report-only profile, dane", dry, "dane.example", nil},
		{"report-only profile, override", dry, "over.example", nil},
		{"report-only profile, negative", dry, "nopolicy.example", nil},
		{"input: IP literal", plain, "[192.0.2.1]", nil},
		{"input: parent probe", plain, ".example.com", nil},
		{"DANE disabled", plain, "sts.example", func() { h.eng.SetDANE(nil, "resolver validation check: no AD bit") }},
		{"DANE disabled, no reason given", plain, "nopolicy.example", func() { h.eng.SetDANE(nil, "") }},
		{"asn encrypt, DANE disabled", plain, "big.example", func() { h.eng.SetASNRules(asnRules) }},
		{"dane again", plain, "mixed.example", func() { h.eng.SetDANE(fd, "") }},
		{"asn encrypt", plain, "big.example", nil},
		{"asn verify", plain, "v6.example", nil},
		{"asn uncovered", plain, "wide.example", nil},
		{"asn no AS", plain, "far.example", nil},
		{"asn MX unknown", plain, "broken.example", nil},
		{"asn report-only", dry, "v6.example", nil},
	}
	var b strings.Builder
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		for _, pass := range []string{"first", "cached"} {
			d := h.eng.Resolve(context.Background(), c.profile, c.key)
			j, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// The control socket's client decodes the decision: it must say the same.
			var back Decision
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatal(err)
			}
			if j2, _ := json.MarshalIndent(&back, "", "  "); string(j2) != string(j) || back.PostfixReply() != d.PostfixReply() {
				t.Errorf("%s: decoded decision differs:\n%s\n%s", c.name, j2, j)
			}
			b.WriteString("== " + c.name + " (" + pass + ")\n" + d.PostfixReply() + "\n" + string(j) + "\n")
		}
	}
	return strings.ReplaceAll(b.String(), h.dns.Addr, "<dns>") // the port is chosen per run
}

// The reasons are recorded compactly and rendered on demand; they, the JSON and the
// replies must read exactly as they did when every stage formatted its reasons at once
// (testdata/decisions.golden was written by that implementation; -update rewrites it).
func TestDecisionsGolden(t *testing.T) {
	got := goldenDecisions(t)
	path := filepath.Join("testdata", "decisions.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		gl, wl := "", ""
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s line %d:\n got %s\nwant %s", path, i+1, gl, wl)
		}
	}
}
