package policy

import (
	"time"

	"github.com/mailtls/mailtls/dane"
)

// While the resolver does not pass the DNSSEC validation check, the engine has no DANE
// stage (Engine.SetDANE with a nil evaluator): no DANE fact can be learnt or re-checked
// (RFC 7672 §2.1 needs a validating resolver). That must not become a downgrade. A
// profile that requires DANE answers TEMP for every domain, and a domain whose last known
// DANE facts — in the hot store or the persistent store (which keeps them daneHeldFor
// past their expiry), expired or not — gave a DANE answer (or TEMP) answers TEMP: Postfix retries later instead of delivering with the
// weaker level MTA-STS or its own default would give. Facts that let MTA-STS decide, or
// say the domain takes no mail, are used as they are.

// daneHeldFor is how long past its expiry an outcome that requires DANE stays in the
// persistent store (and is loaded from it): a restart while the resolver does not
// validate — a validating resolver that starts after mailtls at boot, say — still finds
// the domain's facts and answers TEMP rather than a weaker level. When DANE is on, such
// an expired outcome is only a reason to evaluate the domain again, as any expired one.
const daneHeldFor = 7 * 24 * time.Hour

// requiresDANE reports whether the outcome gives a DANE answer (dane-only, or dane
// unless an MTA-STS enforce policy decides), which daneOff holds while the stage is off.
func requiresDANE(o dane.Outcome) bool {
	switch o {
	case dane.DANEOnly, dane.DANE, dane.LookupFailed, dane.InsecureMXDANE:
		return true
	}
	return false
}

// storeUntil is how long st is worth keeping in the persistent store: until it expires,
// or daneHeldFor longer when it requires DANE.
func (st *daneState) storeUntil() time.Time {
	if requiresDANE(st.Outcome) {
		return st.Expires().Add(daneHeldFor)
	}
	return st.Expires()
}

// daneKnown returns domain's last known DANE facts, expired or not, from the hot store
// or, on a miss, the persistent store; nil when none are known.
func (e *Engine) daneKnown(domain string) *daneState {
	en, ok := e.daneEntryFor(domain)
	if !ok {
		return nil
	}
	return en.state.Load()
}

// heldWhileOff turns an OK answer the DANE stage made from known facts while the stage
// is off into TEMP; TEMP (the MX set was unknown) and NOTFOUND (the domain takes no mail)
// stay as they are.
func heldWhileOff(d *Decision) {
	if d.Result != OK {
		return
	}
	d.Result, d.Level, d.Expires = Temp, "", d.why.dane.Expires()
	d.Message = "the DANE stage is off (the resolver fails the DNSSEC validation check) and the known DANE facts of " + d.Domain + " require DANE"
	d.why.daneHeld = true
}

// daneRequiredOff answers TEMP for a profile that requires DANE while the stage is off.
func daneRequiredOff(d *Decision) {
	d.Result, d.Source = Temp, SourceDANE
	d.Message = "profile " + d.Profile + " requires DANE and the DANE stage is off (the resolver fails the DNSSEC validation check)"
	d.why.daneRequired = true
}
