package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/policy"
)

// queriesSeries returns every mailtls_queries_total series of reg as
// "profile/answer/source" → count.
func queriesSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "mailtls_queries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["profile"]+"/"+l["answer"]+"/"+l["source"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// overrideOnlyConfig is a daemon configuration answering one override key and nothing
// from the network (its resolver is a closed port), with the profiles given as YAML
// ("": the default profiles only).
func overrideOnlyConfig(t *testing.T, dir, profiles string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`
state_dir: %s
resolver: {servers: ["127.0.0.1:1"], timeout: 200ms}
cache: {store: none}
listen:
  socketmap: [{tcp: "127.0.0.1:1"}]
overrides:
  - {domain: over.example, level: secure, match: [mx.over.example]}
`, dir)
	if profiles != "" {
		yaml += "profiles:\n" + profiles
	}
	cfg, err := config.Parse([]byte(yaml), "override.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The counters count per profile, answer kind and source through a reload that removes
// one profile and adds another; a query naming no configured profile (also one removed by
// the reload) counts as "" PERM input; /metrics shows only the series that were counted
// (no zero series for combinations never answered); the table holds only the configured
// profiles and "".
func TestQueryCountersAcrossReload(t *testing.T) {
	dir := t.TempDir()
	yaml := func(profiles string) *config.Config { return overrideOnlyConfig(t, dir, profiles) }
	d, err := New(yaml("  dry: {report_only: true}\n"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ask := func(profile, key, want string) {
		t.Helper()
		if got := d.Lookup(ctx, profile, key); got != want {
			t.Fatalf("%s %s: %q, want %q", profile, key, got, want)
		}
	}
	const secure = "OK secure match=mx.over.example"
	unknown := func(p string) string { return fmt.Sprintf("PERM unknown map name %q: not a configured profile", p) }
	ask("postfix", "over.example", secure)
	ask("postfix", "over.example", secure)
	ask("dry", "over.example", "NOTFOUND ")
	ask("nosuch", "over.example", unknown("nosuch"))
	ask("postfix", "[192.0.2.1]", "NOTFOUND ")
	if err := d.Reload(yaml("  other: {}\n")); err != nil {
		t.Fatal(err)
	}
	ask("postfix", "over.example", secure)
	ask("other", "over.example", secure)
	ask("dry", "over.example", unknown("dry"))

	want := map[string]float64{
		"postfix/OK/override":      3,
		"dry/NOTFOUND/report-only": 1,
		"/PERM/input":              2,
		"postfix/NOTFOUND/input":   1,
		"other/OK/override":        1,
	}
	if got := queriesSeries(t, d.metrics.reg); !maps.Equal(got, want) {
		t.Errorf("mailtls_queries_total = %v\nwant %v", got, want)
	}
	configured := slices.Sorted(maps.Keys(*d.profiles.Load()))
	if !slices.Contains(configured, "other") || slices.Contains(configured, "dry") {
		t.Fatalf("profiles after the reload: %q", configured)
	}
	if got := slices.Sorted(maps.Keys(*d.metrics.queryCount.table.Load())); !slices.Equal(got, append([]string{""}, configured...)) {
		t.Errorf("table after the reload holds %q, want \"\" and the configured profiles %q", got, configured)
	}
}

// A profile the table does not hold (a query that raced the reload removing it) and an
// answer kind or source outside the known sets are still counted under their own labels.
func TestQueryCountersOutsideTable(t *testing.T) {
	reg := prometheus.NewRegistry()
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailtls_queries_total", Help: "h"}, []string{"profile", "answer", "source"})
	reg.MustRegister(vec)
	q := newQueryCounters(vec)
	q.setProfiles(map[string]*policy.Profile{"postfix": nil})
	q.inc("gone", policy.OK, policy.SourceMTASTS)
	q.inc("postfix", "MAYBE", policy.SourceMTASTS)
	q.inc("postfix", policy.OK, "future")
	q.inc("postfix", policy.OK, policy.SourceMTASTS)
	q.inc("postfix", policy.OK, policy.SourceMTASTS)
	want := map[string]float64{
		"gone/OK/mta-sts":       1,
		"postfix/MAYBE/mta-sts": 1,
		"postfix/OK/future":     1,
		"postfix/OK/mta-sts":    2,
	}
	if got := queriesSeries(t, reg); !maps.Equal(got, want) {
		t.Errorf("mailtls_queries_total = %v\nwant %v", got, want)
	}
}

// Every answer kind and source policy defines has a slot of its own in the table.
func TestQueryCounterIndexes(t *testing.T) {
	seen := map[int]policy.Result{}
	for _, r := range []policy.Result{policy.OK, policy.NotFound, policy.Temp, policy.Perm} {
		i := resultIndex(r)
		if i < 0 || i >= numResults || seen[i] != "" {
			t.Errorf("result %s: index %d (taken by %q)", r, i, seen[i])
		}
		seen[i] = r
	}
	seenS := map[int]policy.Source{}
	for _, s := range []policy.Source{policy.SourceInput, policy.SourceOverride, policy.SourceDANE, policy.SourceMTASTS,
		policy.SourceASN, policy.SourceDefault, policy.SourceDeadline, policy.SourceReportOnly} {
		i := sourceIndex(s)
		if i < 0 || i >= numSources || seenS[i] != "" {
			t.Errorf("source %s: index %d (taken by %q)", s, i, seenS[i])
		}
		seenS[i] = s
	}
}
