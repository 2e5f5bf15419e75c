package policy

import (
	"fmt"
	"strings"
)

// explanation is what a Decision rests on, recorded without formatting anything: a few
// small steps and pointers to the immutable states and rules the stages read (states are
// replaced, never changed, once published). render turns it into the text of
// Decision.Reasons, in evaluation order (conformance.md §2), so answering Postfix costs no
// formatting and no allocation.
type explanation struct {
	eng *Engine // its retry timers appear in MTA-STS reasons

	input error // the key is not looked up, and why (SourceInput)

	override *Override

	daneNote daneNote
	daneOff  string // why the DANE stage is disabled (daneDisabled)

	dane     *daneState
	daneStep daneStep
	// daneHeld: the stage is off and dane holds the last known facts, whose answer
	// became TEMP (heldWhileOff); daneRequired: the stage is off and the profile
	// requires DANE (daneRequiredOff).
	daneHeld, daneRequired bool

	sts       *stsState
	stsUsable bool // the held policy was usable when the decision was made
	stsStep   stsStep

	mx      *mxState
	asn     *ASNRules
	asnStep asnStep
	asnRule *ASNRule // asnMatched
	asnAddr int      // index in mx.Addrs of the address without an AS (asnNoAS)

	deadline   bool // the answer deadline passed before the facts were known
	noPolicy   bool // the profile's default answered
	reportOnly bool // the answer became NOTFOUND; Decision.Would says what it would have been
}

// daneNote is why the DANE stage did not run at all.
type daneNote uint8

const (
	daneRan        daneNote = iota
	daneProfileOff          // the profile turns DANE off
	daneDisabled            // no evaluator, for the reason in explanation.daneOff
)

// daneStep is what the DANE stage concluded (applyDANE).
type daneStep uint8

const (
	daneNotRun       daneStep = iota
	daneTempFail              // the MX set cannot be determined securely: TEMP
	daneNoMail                // the domain accepts no mail
	daneOnlyAnswer            // dane-only: every MX host has usable TLSA
	daneSomeAnswer            // dane: some MX hosts have usable TLSA
	daneLookupTemp            // a secure host's lookup failed; the profile answers TEMP
	daneLookupAnswer          // a secure host's lookup failed; dane, Postfix retries per host
	daneInsecureSTS           // insecure MX set, an MTA-STS enforce policy decides
	daneInsecureMX            // insecure MX set, a host has usable TLSA: dane
	daneNone                  // no DANE: MTA-STS decides
)

// stsStep is what the MTA-STS stage concluded (applySTS).
type stsStep uint8

const (
	stsNotRun       stsStep = iota
	stsAlso                 // DANE decided; a usable MTA-STS policy is also published
	stsUnusable             // no usable policy: the facts are explained, the next stage answers
	stsEnforce              // mode enforce: secure
	stsTestingForce         // mode testing, answered like enforce by the profile
	stsTesting              // mode testing: no policy handed over
	stsOtherMode            // mode none (or unknown): no policy
)

// asnStep is what the ASN rules concluded (applyASN).
type asnStep uint8

const (
	asnNotRun    asnStep = iota
	asnUnknown           // the MX addresses could not be found (mxState.Err)
	asnNoAS              // an MX address is in no AS of the database
	asnUncovered         // no rule covers every MX address
	asnMatched           // asnRule covers them all
)

// render writes the reasons of d, which x belongs to.
func (x *explanation) render(d *Decision) []string {
	var r []string
	add := func(format string, args ...any) { r = append(r, fmt.Sprintf(format, args...)) }
	if x.input != nil {
		add("%q is not looked up: %v", d.Key, x.input)
	}
	if x.override != nil {
		add("operator override %s: level %s", x.override.Domain, x.override.Level)
	}
	switch x.daneNote {
	case daneProfileOff:
		add("DANE stage off in profile %s", d.Profile)
	case daneDisabled:
		add("DANE stage DISABLED: %s", x.daneOff)
	}
	if x.daneRequired {
		add("profile %s requires DANE: TEMP until the resolver validates again, never a weaker answer", d.Profile)
	}
	if x.dane != nil && x.daneHeld {
		add("known DANE facts of %s (evaluated %s, outcome %s) require DANE: TEMP until the resolver validates again, never a weaker answer",
			d.Domain, stamp(x.dane.Checked()), x.dane.Outcome)
	} else if x.dane != nil {
		if x.daneNote == daneDisabled {
			add("last known DANE facts of %s, evaluated %s (not re-checked while the stage is off):", d.Domain, stamp(x.dane.Checked()))
		}
		r = x.renderDANE(r, d)
	}
	switch {
	case x.sts == nil:
	case x.stsStep == stsAlso:
		add("an MTA-STS policy (mode %s, id %s) is also published; DANE takes precedence (RFC 8461 §2)", x.sts.Policy.Mode(), x.sts.PolicyID())
	default:
		r = x.renderSTS(r, d)
	}
	if x.asnStep != asnNotRun {
		r = x.renderASN(r)
	}
	if x.deadline {
		add("the answer deadline passed before %s's policy was known: TEMP, so Postfix retries later instead of getting a possibly weaker answer", d.Domain)
	}
	if x.noPolicy {
		add("no policy applies: Postfix uses its smtp_tls_security_level")
	}
	if x.reportOnly && d.Would != nil {
		add("report-only: would have answered %q; answering NOTFOUND", d.Would.Reply)
	}
	return r
}

// renderDANE writes the DANE stage's reasons (RFC 7672 §2).
func (x *explanation) renderDANE(r []string, d *Decision) []string {
	for _, why := range x.dane.Reasons {
		r = append(r, "DANE: "+why)
	}
	answer := func(level, why string) []string { return append(r, "answer: "+level+", "+why) }
	switch x.daneStep {
	case daneTempFail:
		return append(r, d.Message+", so delivery waits")
	case daneNoMail:
		return append(r, d.Domain+" accepts no mail (NXDOMAIN or null MX): neither DANE nor MTA-STS applies")
	case daneOnlyAnswer:
		return answer("dane-only", "every MX host has a secure, usable TLSA RRset (RFC 7672 §2.2)")
	case daneSomeAnswer:
		return answer("dane", "some MX hosts have secure TLSA records; Postfix applies DANE per host (RFC 7672 §2.2)")
	case daneLookupTemp:
		return append(r, fmt.Sprintf("a secure MX host's address or TLSA lookup failed and profile %s answers such failures with TEMP", d.Profile))
	case daneLookupAnswer:
		return answer("dane", "a secure MX host's lookup failed; Postfix repeats the per-host lookup and skips or defers that host itself (RFC 7672 §2.1.2)")
	case daneInsecureSTS:
		return append(r, "the MX RRset is insecure and an MTA-STS enforce policy authenticates the MX set: MTA-STS decides")
	case daneInsecureMX:
		return answer("dane", "the MX RRset is insecure but an MX host has a secure, usable TLSA RRset (RFC 7672 §2.2.1)")
	case daneNone:
		return append(r, "no DANE for "+d.Domain+": MTA-STS decides")
	}
	return r
}

// renderSTS writes what is known about the domain's MTA-STS, then what the stage
// concluded (RFC 8461 §3.3, §5.1).
func (x *explanation) renderSTS(r []string, d *Decision) []string {
	add := func(format string, args ...any) { r = append(r, fmt.Sprintf(format, args...)) }
	st, e := x.sts.record(), x.eng
	name := "_mta-sts." + st.Domain
	if st.DNSError != "" {
		add("TXT %s lookup failed at %s: %s (retried after %s)", name, stamp(st.DNSFailedAt), st.DNSError, e.opt.DNSRetry)
		if st.Policy != nil && !x.stsUsable {
			add("the expired policy could not be refreshed: no policy until a refresh succeeds (RFC 8461 §5.1)")
		}
	}
	if !st.TXTChecked.IsZero() {
		if st.RecordID == "" {
			add("no MTA-STS record at %s: %s (checked %s, cached %s)", name, st.TXTReason, stamp(st.TXTChecked), st.TXTTTL)
		} else {
			add("TXT %s: %q → id %s (checked %s, re-read after %s)", name, strings.Join(st.TXT, " | "), st.RecordID, stamp(st.TXTChecked), st.TXTTTL)
		}
	}
	if st.Policy != nil {
		state := "valid until " + stamp(st.Expires)
		switch {
		case x.sts.once():
			state = "max_age 0: applies to this lookup only and is not kept (RFC 8461 §3.2)"
		case !x.stsUsable:
			state = "expired at " + stamp(st.Expires) + ": max_age has passed, the policy is no longer applied (RFC 8461 §5.1)"
		}
		add("policy from %s fetched %s under id %s: mode %s, max_age %d, mx %s; %s",
			st.URL, stamp(st.Fetched), st.PolicyID, st.Policy.Mode, st.Policy.MaxAge, strings.Join(st.Policy.MX, " "), state)
		if st.RecordID != "" && st.PolicyID != st.RecordID && x.stsUsable {
			add("the record now carries id %s; the held policy stays in force until a new one is fetched (RFC 8461 §5.1)", st.RecordID)
		}
	}
	if st.FailedID != "" {
		add("fetch under id %s failed %s (%s): %s; next attempt after %s", st.FailedID, stamp(st.FailedAt), st.FailType, st.FailReason, stamp(st.FailedAt.Add(e.timers.Load().FailureRetry)))
		switch {
		case st.Policy != nil && !x.stsUsable:
			add("the expired policy could not be refetched: no policy until a fetch succeeds (RFC 8461 §5.1, §3.3)")
		case st.Policy == nil:
			add("no policy held: continuing as if the domain had none (RFC 8461 §3.3)")
		}
	}
	switch x.stsStep {
	case stsTestingForce:
		add("profile %s treats testing policies as enforce", d.Profile)
	case stsTesting:
		add("policy mode testing: Postfix cannot verify without enforcing, so no policy is handed over (RFC 8461 §5)")
	case stsOtherMode:
		add("policy mode %s: no policy applies", st.Policy.Mode)
	}
	if x.stsStep == stsEnforce || x.stsStep == stsTestingForce {
		add("answer: secure, the MX host must match %s and present a WebPKI-valid certificate (RFC 8461 §4)", strings.Join(st.Policy.MX, ", "))
	}
	return r
}

// renderASN writes what the ASN rules concluded. The AS numbers are looked up again in
// the rules' database, which is immutable like the rules.
func (x *explanation) renderASN(r []string) []string {
	add := func(format string, args ...any) { r = append(r, fmt.Sprintf(format, args...)) }
	st := x.mx
	switch x.asnStep {
	case asnUnknown:
		add("ASN rules: MX addresses unknown (%s)", st.Err)
	case asnNoAS:
		add("ASN rules: %s has no AS in the database; no rule applies", st.Addrs[x.asnAddr])
	case asnUncovered:
		add("ASN rules: MX addresses %s in AS %v: no rule covers them all", addrList(st.Addrs), x.asns())
	case asnMatched:
		b := x.asnRule
		add("ASN rule %s: every MX address (%s of %s) is in AS %v: at least %s", b.Name, addrList(st.Addrs), strings.Join(st.Hosts, ", "), x.asns(), b.Level)
	}
	return r
}

// asns are the AS numbers of the MX addresses, every one of which has one (asnUncovered,
// asnMatched).
func (x *explanation) asns() []uint32 {
	out := make([]uint32, len(x.mx.Addrs))
	for i, ip := range x.mx.Addrs {
		out[i], _ = x.asn.DB.ASN(ip)
	}
	return out
}
