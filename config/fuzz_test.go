package config

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary text to the configuration parser: it must never panic, a
// rejected file must come back as Errors, and an accepted one must satisfy the bounds
// validation promises.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add(DefaultYAML())
	f.Add([]byte("mta_sts:\n  fetch_timeout: 5s\nprofiles:\n  p: {testing: enforce}\n"))
	f.Add([]byte("overrides:\n  - {domain: .example.org, level: secure, match: [.example.org]}\n"))
	f.Add([]byte("listen: {socketmap: [{unix: /x, mode: \"0600\"}]}\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not config.Errors: %T %v", err, err)
			}
			return
		}
		if len(cfg.Listen.Socketmap) == 0 {
			t.Fatal("accepted a configuration without listeners")
		}
		if d := cfg.MTASTS.FetchTimeout.D(); d < time.Second || d > time.Minute {
			t.Fatalf("accepted fetch_timeout %v", d)
		}
		for _, o := range cfg.Overrides {
			if _, err := NormalizeOverrideDomain(o.Domain); err != nil {
				t.Fatalf("accepted override domain %q", o.Domain)
			}
		}
	})
}
