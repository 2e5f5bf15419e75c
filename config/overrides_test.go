package config

import (
	"errors"
	"strings"
	"testing"
)

const fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

func TestOverridesValid(t *testing.T) {
	cfg, err := Parse([]byte(`
overrides:
  - {domain: example.com, level: secure, match: [mx1.example.com, .example.net]}
  - {domain: .example.org, level: encrypt}
  - {domain: bank.example, level: fingerprint, fingerprints: ["`+fp+`"]}
  - {domain: Bücher.example, level: dane-only}
  - {domain: legacy.example, level: none, report_only: true}
`), "o.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Overrides) != 5 || !cfg.Overrides[4].ReportOnly {
		t.Errorf("overrides = %+v", cfg.Overrides)
	}
}

// Issue 5: conflicts and invalid values are configuration errors that name the line.
func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		contains   string
	}{
		{"unknown level", "overrides:\n  - domain: a.example\n    level: tight\n", 3, "not one of"},
		{"bad domain", "overrides:\n  - domain: 'a b.example'\n    level: may\n", 2, "not a domain"},
		{"duplicate domain", "overrides:\n  - {domain: a.example, level: may}\n  - {domain: A.EXAMPLE., level: none}\n", 3, "already overridden by overrides.0"},
		{"match on a level without it", "overrides:\n  - domain: a.example\n    level: encrypt\n    match: [mx.a.example]\n", 4, "takes no match"},
		{"bad match pattern", "overrides:\n  - domain: a.example\n    level: secure\n    match:\n      - 'mx a'\n", 5, "match pattern"},
		{"fingerprint without fingerprints", "overrides:\n  - domain: a.example\n    level: fingerprint\n", 2, "needs at least one"},
		{"bad fingerprint", "overrides:\n  - domain: a.example\n    level: fingerprint\n    fingerprints: ['AB:CD']\n", 4, "SHA-256"},
		{"fingerprints on another level", "overrides:\n  - domain: a.example\n    level: may\n    fingerprints: ['" + fp + "']\n", 4, "fingerprint only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "o.yaml")
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v", err)
			}
			e := errs[0]
			if (tt.line > 0 && e.Line != tt.line) || !strings.Contains(e.Error(), tt.contains) {
				t.Errorf("got %q (line %d), want line %d containing %q", e.Error(), e.Line, tt.line, tt.contains)
			}
		})
	}
}

func TestASNRuleErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		contains   string
	}{
		{"rules without database", "asn:\n  rules:\n    - {asns: [64500], level: encrypt}\n", 1, "need an IP-to-ASN database"},
		{"missing database file", "asn:\n  database: /nonexistent.mmdb\n", 2, "asn.database"},
		{"bad level", "asn:\n  database: /dev/null\n  rules:\n    - asns: [64500]\n      level: may\n", 5, "not one of encrypt"},
		{"no asns", "asn:\n  database: /dev/null\n  rules:\n    - {level: encrypt}\n", 4, "at least one AS"},
		{"asn not a number", "asn:\n  database: /dev/null\n  rules:\n    - {asns: [AS64500], level: encrypt}\n", 4, "AS64500"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml), "a.yaml")
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("%s: err = %v", tt.name, err)
		}
		if e := errs[0]; e.Line != tt.line || !strings.Contains(e.Error(), tt.contains) {
			t.Errorf("%s: got %q (line %d), want line %d containing %q", tt.name, e.Error(), e.Line, tt.line, tt.contains)
		}
	}
}
