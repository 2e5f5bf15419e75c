package hosting

import (
	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/mtasts"
)

// Spec is one hosted domain as configured, with the hosting defaults applied.
type Spec struct {
	Domain string
	Mode   mtasts.Mode
	// MX are explicit patterns; MXAuto derives them from the domain's MX records instead.
	MX     []string
	MXAuto bool
	MaxAge uint32
	// Upstream, when set, is the https URL of a policy to mirror.
	Upstream string
	// CertFile and KeyFile, when set, are the domain's certificate; else ACME.
	CertFile, KeyFile string
	// Retiring marks a domain no longer configured that is still served as mode none
	// until senders' cached policies have expired (RFC 8461 §8.3).
	Retiring bool
}

// Name is the policy host name, mta-sts.<domain> (RFC 8461 §3.3).
func (s Spec) Name() string { return "mta-sts." + s.Domain }

// SpecsFromConfig turns the hosting section into specs, defaults applied.
func SpecsFromConfig(h *config.Hosting) []Spec {
	out := make([]Spec, 0, len(h.Domains))
	for _, d := range h.Domains {
		p := h.Effective(d)
		s := Spec{Domain: d.Domain, Mode: mtasts.Mode(p.Mode), MaxAge: p.MaxAge, Upstream: d.Upstream,
			CertFile: d.CertFile, KeyFile: d.KeyFile}
		if p.MX.Auto {
			s.MXAuto = true
		} else {
			s.MX = p.MX.Patterns
		}
		out = append(out, s)
	}
	return out
}

// retiringMaxAge is the max_age of the mode-none policy served for a retiring domain:
// a day, so senders that fetch it look again soon after the records are gone.
const retiringMaxAge = 86400

// retiringSpec is the spec of a domain removed from the configuration (RFC 8461 §8.3).
func retiringSpec(domain string) Spec {
	return Spec{Domain: domain, Mode: mtasts.ModeNone, MaxAge: retiringMaxAge, Retiring: true}
}
