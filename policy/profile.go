package policy

import (
	"time"

	"github.com/mailtls/mailtls/config"
)

// Profile is the runtime form of a configured profile: what differs per socketmap map name.
type Profile struct {
	Name string
	// TLSRPT adds the Postfix ≥ 3.10 TLSRPT attributes to answers.
	TLSRPT bool
	// TestingAsEnforce answers MTA-STS "testing" policies like "enforce" (conformance.md
	// §4: an explicit operator opt-in; RFC 8461 §5 says testing must not fail delivery).
	TestingAsEnforce bool
	// DANE enables the DANE stage.
	DANE bool
	// DANERequired refuses to start the daemon when the resolver fails the DNSSEC
	// validation check, instead of running with the DANE stage off.
	DANERequired bool
	// DANELookupFailureTemp answers TEMP instead of "dane" when a secure-MX domain's host
	// lookups failed and no host is proven DANE (conformance.md §3).
	DANELookupFailureTemp bool
	// AnswerDeadline bounds one answer's network work; 0 = DefaultAnswerDeadline.
	AnswerDeadline time.Duration
	// ReportOnly answers NOTFOUND for every key while recording what mailtls would have
	// answered (Decision.Would): a dry run before enforcing.
	ReportOnly bool
}

// ProfileFromConfig converts one configured profile.
func ProfileFromConfig(name string, p config.Profile) *Profile {
	return &Profile{
		Name:                  name,
		TLSRPT:                p.TLSRPT,
		TestingAsEnforce:      p.Testing == "enforce",
		DANE:                  p.DANE != "off",
		DANERequired:          p.DANE == "required",
		DANELookupFailureTemp: p.DANELookupFailure == "temp",
		ReportOnly:            p.ReportOnly,
		AnswerDeadline:        p.AnswerDeadline.D(),
	}
}

// ProfilesFromConfig converts every configured profile, keyed by map name.
func ProfilesFromConfig(c *config.Config) map[string]*Profile {
	out := make(map[string]*Profile, len(c.Profiles))
	for name, p := range c.Profiles {
		out[name] = ProfileFromConfig(name, p)
	}
	return out
}
