package policy

import (
	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/mtasts"
)

// applyDANE turns the DANE outcome into the answer (conformance.md §3) and reports whether
// DANE decided it; otherwise MTA-STS is asked next.
func (e *Engine) applyDANE(d *Decision, p *Profile, st *daneState, sts *stsState) bool {
	for _, r := range st.Reasons {
		d.because("DANE: %s", r)
	}
	answer := func(level, why string) bool {
		d.Result, d.Level, d.Source, d.Expires = OK, level, SourceDANE, st.Expires
		d.because("answer: %s, %s", level, why)
		return true
	}
	switch st.Outcome {
	case dane.TempFail:
		d.Result, d.Source, d.Expires = Temp, SourceDANE, st.Expires
		d.Message = "MX lookup for " + d.Domain + " failed: the servers cannot be determined securely (RFC 7672 §2.1.2)"
		d.because("%s, so delivery waits", d.Message)
		return true
	case dane.NoMail:
		d.Result, d.Source, d.Expires = NotFound, SourceDANE, st.Expires
		d.because("%s accepts no mail (NXDOMAIN or null MX): neither DANE nor MTA-STS applies", d.Domain)
		return true
	case dane.DANEOnly:
		return answer("dane-only", "every MX host has a secure, usable TLSA RRset (RFC 7672 §2.2)")
	case dane.DANE:
		return answer("dane", "some MX hosts have secure TLSA records; Postfix applies DANE per host (RFC 7672 §2.2)")
	case dane.LookupFailed:
		if p.DANELookupFailureTemp {
			d.Result, d.Source, d.Expires = Temp, SourceDANE, st.Expires
			d.Message = "DANE lookup for an MX host of " + d.Domain + " failed"
			d.because("a secure MX host's address or TLSA lookup failed and profile %s answers such failures with TEMP", p.Name)
			return true
		}
		return answer("dane", "a secure MX host's lookup failed; Postfix repeats the per-host lookup and skips or defers that host itself (RFC 7672 §2.1.2)")
	case dane.InsecureMXDANE:
		if sts != nil && sts.usable(e.now()) && (sts.Policy.Mode == mtasts.ModeEnforce || sts.Policy.Mode == mtasts.ModeTesting && p.TestingAsEnforce) {
			d.because("the MX RRset is insecure and an MTA-STS enforce policy authenticates the MX set: MTA-STS decides")
			return false
		}
		return answer("dane", "the MX RRset is insecure but an MX host has a secure, usable TLSA RRset (RFC 7672 §2.2.1)")
	}
	d.because("no DANE for %s: MTA-STS decides", d.Domain)
	return false
}
