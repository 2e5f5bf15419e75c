package policy

import (
	"context"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dane"
)

const testFP = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

func testOverrides(t *testing.T) *Overrides {
	t.Helper()
	o, err := OverridesFromConfig([]config.Override{
		{Domain: "example.com", Level: "secure", Match: []string{"mx1.example.com", ".example.net"}},
		{Domain: ".example.org", Level: "encrypt"},
		{Domain: ".deep.example.org", Level: "may"},
		{Domain: "exact.example.org", Level: "verify", Match: []string{"hostname"}},
		{Domain: "bank.example", Level: "fingerprint", Fingerprints: []string{testFP, testFP}},
		{Domain: "Bücher.example", Level: "dane-only"},
		{Domain: "dry.example", Level: "none", ReportOnly: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// conformance.md §2 stage 1 and issue 5: overrides come before DANE and MTA-STS; an exact
// domain beats a suffix; the longest suffix wins; a suffix does not match its own apex.
func TestOverridePrecedence(t *testing.T) {
	tests := []struct {
		key, want string
		source    Source
	}{
		{"example.com", "OK secure match=mx1.example.com:.example.net", SourceOverride},
		{"[example.com]:25", "OK secure match=mx1.example.com:.example.net", SourceOverride},
		{"a.example.org", "OK encrypt", SourceOverride},
		{"a.b.example.org", "OK encrypt", SourceOverride},
		{"x.deep.example.org", "OK may", SourceOverride},
		{"exact.example.org", "OK verify match=hostname", SourceOverride},
		{"example.org", "OK dane-only", SourceDANE}, // ".example.org" is for subdomains only
		{"bank.example", "OK fingerprint match=" + testFP + "|" + testFP, SourceOverride},
		{"bücher.example", "OK dane-only", SourceOverride},
		{"dry.example", "NOTFOUND ", SourceReportOnly},
	}
	for _, tt := range tests {
		h, fd := newDANEHarness(t, map[string]dane.Outcome{"example.com": dane.DANEOnly, "example.org": dane.DANEOnly})
		h.sts("example.com", "1", policyText("enforce", 86400, "other.example.com"))
		h.eng.SetOverrides(testOverrides(t))
		d := h.resolve(plain, tt.key)
		if got := d.PostfixReply(); got != tt.want || d.Source != tt.source {
			t.Errorf("%s: %q (%s), want %q (%s)", tt.key, got, d.Source, tt.want, tt.source)
		}
		if tt.source != SourceDANE && (h.dns.Queries() != 0 || fd.count() != 0) {
			t.Errorf("%s: an overridden domain was looked up (%d DNS queries, %d DANE evaluations)", tt.key, h.dns.Queries(), fd.count())
		}
	}
}

// Issue 5 gradual rollout: a report-only rule or profile answers NOTFOUND and records what
// it would have answered.
func TestReportOnly(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx.sts.example"))
	h.eng.SetOverrides(testOverrides(t))

	d := h.resolve(plain, "dry.example")
	if d.Result != NotFound || d.Would == nil || d.Would.Reply != "OK none" || d.Would.Source != SourceOverride {
		t.Errorf("report-only rule: %q would=%+v", d.PostfixReply(), d.Would)
	}
	dry := &Profile{Name: "dry", ReportOnly: true}
	d = h.resolve(dry, "sts.example")
	if d.PostfixReply() != "NOTFOUND " || d.Source != SourceReportOnly || d.Would == nil ||
		d.Would.Reply != "OK secure match=mx.sts.example servername=hostname" || d.Would.Source != SourceMTASTS {
		t.Errorf("report-only profile: %q (%s) would=%+v", d.PostfixReply(), d.Source, d.Would)
	}
	if d := h.resolve(plain, "sts.example"); d.Result != OK || d.Would != nil {
		t.Errorf("enforcing profile after a dry run: %q would=%+v", d.PostfixReply(), d.Would)
	}
}

// A report-only profile never affects delivery: even a TEMP (answer deadline passed) is
// answered NOTFOUND and recorded as what would have been answered.
func TestReportOnlyNeverDefers(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("slow.example", "1", policyText("enforce", 86400, "mx.slow.example"))
	h.fetch.delay = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	d := h.eng.Resolve(ctx, &Profile{Name: "dry", ReportOnly: true}, "slow.example")
	if d.PostfixReply() != "NOTFOUND " || d.Would == nil || d.Would.Source != SourceDeadline {
		t.Errorf("report-only at the deadline: %q would=%+v", d.PostfixReply(), d.Would)
	}
}
