package policy

import (
	"github.com/mailtls/mailtls/dane"
)

// applyDANE turns the DANE outcome into the answer (conformance.md §3) and reports whether
// DANE decided it; otherwise MTA-STS is asked next.
func (e *Engine) applyDANE(d *Decision, p *Profile, st *daneState, sts *stsState) bool {
	d.why.dane = st
	answer := func(level string, step daneStep) bool {
		d.Result, d.Level, d.Source, d.Expires = OK, level, SourceDANE, st.Expires()
		d.daneHosts = st.hosts
		d.why.daneStep = step
		return true
	}
	switch st.Outcome {
	case dane.TempFail:
		d.Result, d.Source, d.Expires = Temp, SourceDANE, st.Expires()
		d.Message = "MX lookup for " + d.Domain + " failed: the servers cannot be determined securely (RFC 7672 §2.1.2)"
		d.why.daneStep = daneTempFail
		return true
	case dane.NoMail:
		d.Result, d.Source, d.Expires = NotFound, SourceDANE, st.Expires()
		d.why.daneStep = daneNoMail
		return true
	case dane.DANEOnly:
		return answer("dane-only", daneOnlyAnswer)
	case dane.DANE:
		return answer("dane", daneSomeAnswer)
	case dane.LookupFailed:
		if p.DANELookupFailureTemp {
			d.Result, d.Source, d.Expires = Temp, SourceDANE, st.Expires()
			d.Message = "DANE lookup for an MX host of " + d.Domain + " failed"
			d.why.daneStep = daneLookupTemp
			return true
		}
		return answer("dane", daneLookupAnswer)
	case dane.InsecureMXDANE:
		if sts != nil && sts.usable(e.now()) && (sts.Policy.mode == modeEnforce || sts.Policy.mode == modeTesting && p.TestingAsEnforce) {
			d.why.daneStep = daneInsecureSTS
			return false
		}
		return answer("dane", daneInsecureMX)
	}
	d.why.daneStep = daneNone
	return false
}
