package policy

import (
	"slices"
	"strings"

	"github.com/mailtls/mailtls/config"
)

// Override is one operator rule pinning a Postfix TLS level (conformance.md §2, stage 1).
type Override struct {
	Domain       string // "example.com" (exact) or ".example.com" (every subdomain)
	Level        string
	Match        []string
	Fingerprints []string
	ReportOnly   bool

	// Rendered by OverridesFromConfig; "" and nil in a rule built otherwise, whose
	// answers are rendered per lookup.
	reply string
	would *Would
}

// Overrides finds the rule for a domain: an exact rule beats a suffix rule, and a longer
// suffix beats a shorter one. The zero value has no rules. Immutable once built.
type Overrides struct {
	exact    map[string]*Override
	suffixes []*Override // longest first
}

// OverridesFromConfig builds the rule set; config.Parse has validated every rule.
func OverridesFromConfig(rules []config.Override) (*Overrides, error) {
	o := &Overrides{exact: map[string]*Override{}}
	for _, r := range rules {
		dom, err := config.NormalizeOverrideDomain(r.Domain)
		if err != nil {
			return nil, err
		}
		ov := &Override{Domain: dom, Level: r.Level, Match: r.Match, Fingerprints: r.Fingerprints, ReportOnly: r.ReportOnly}
		ov.prepare()
		if strings.HasPrefix(dom, ".") {
			o.suffixes = append(o.suffixes, ov)
		} else {
			o.exact[dom] = ov
		}
	}
	slices.SortStableFunc(o.suffixes, func(a, b *Override) int { return len(b.Domain) - len(a.Domain) })
	return o, nil
}

// Find returns the rule for domain (lower-case A-label), or nil. A ".example.com" rule
// matches subdomains of example.com, not example.com itself (as Postfix's
// parent_domain_matches_subdomains does for smtp_tls_policy_maps).
func (o *Overrides) Find(domain string) *Override {
	if o == nil {
		return nil
	}
	if r, ok := o.exact[domain]; ok {
		return r
	}
	for _, r := range o.suffixes {
		if strings.HasSuffix(domain, r.Domain) {
			return r
		}
	}
	return nil
}

// Len is the number of rules.
func (o *Overrides) Len() int {
	if o == nil {
		return 0
	}
	return len(o.exact) + len(o.suffixes)
}

// applyOverride answers from an operator rule.
func applyOverride(d *Decision, r *Override) {
	d.Result, d.Level, d.Source = OK, r.Level, SourceOverride
	switch r.Level {
	case "fingerprint":
		d.Match = r.Fingerprints
	case "verify", "secure":
		d.Match = r.Match
	}
	d.reply, d.would = r.reply, r.would
	d.why.override = r
}

// prepare renders the rule's reply once (it depends on nothing but the rule), so answers
// from it format nothing.
func (r *Override) prepare() {
	d := Decision{Key: r.Domain}
	applyOverride(&d, r)
	r.reply = d.PostfixReply()
	r.would = &Would{Reply: r.reply, Source: SourceOverride}
}
