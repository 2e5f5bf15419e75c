package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mailtls/mailtls/dnsclient"
)

// The resolver's DNSSEC validation is re-checked while the daemon runs (RFC 7672 §2.1:
// DANE needs a validating resolver). Only a check that proves the resolver does not
// validate (dnsclient.NotValidating: a signed name without AD, a bogus name answered)
// switches the DANE stage off; a check that could not be made (timeouts, network errors,
// REFUSED, SERVFAIL on the signed name, a bogus name that no longer exists) keeps the
// last verdict and is retried sooner, with back-off. An attacker who delays one probe, or
// a change to the third-party bogus zone, therefore cannot switch DANE off. And while it
// is off, the engine answers TEMP for domains whose known facts say DANE and for
// profiles that require it (policy/daneoff.go), never a weaker level.

// validationTimers say when the check is repeated.
type validationTimers struct {
	whileOn  time.Duration // after a conclusive check with DANE on
	whileOff time.Duration // after a conclusive check with DANE off (a resolver started late)
	retry    time.Duration // after the first inconclusive check; doubles, up to the above
}

// defaultValidationTimers are the daemon's: a resolver that starts after mailtls (at boot)
// is noticed within a minute, one that stops validating within 10 minutes, and a probe
// that could not be made is repeated after 5 s, 10 s, 20 s …
func defaultValidationTimers() validationTimers {
	return validationTimers{whileOn: 10 * time.Minute, whileOff: time.Minute, retry: 5 * time.Second}
}

// next is the wait before the following check: the interval of the current state, or
// sooner after inconclusive checks in a row.
func (t validationTimers) next(on bool, inconclusive int) time.Duration {
	every := t.whileOff
	if on {
		every = t.whileOn
	}
	if inconclusive > 0 {
		every = min(every, t.retry<<min(inconclusive-1, 16))
	}
	return every
}

// validationState is what the daemon knows of the resolver's validation, for /readyz.
type validationState struct {
	mu           sync.Mutex
	on           bool
	since        time.Time // when the stage took its current state
	reason       string    // why it is off
	lastCheck    time.Time
	lastErr      string // the last check's error when it was inconclusive
	inconclusive int    // inconclusive checks in a row
}

func (v *validationState) set(on bool, reason string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.on, v.reason, v.since = on, reason, now
}

// report says in one line per fact how the DANE stage stands.
func (v *validationState) report() (on bool, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.on {
		text = "dane: on since " + stampUTC(v.since) + "\n"
	} else {
		text = "dane: OFF since " + stampUTC(v.since) + ": " + v.reason + "\n"
	}
	if v.inconclusive > 0 {
		text += fmt.Sprintf("dane: last validation check %s inconclusive (%d in a row): %s; the last verdict stands\n",
			stampUTC(v.lastCheck), v.inconclusive, v.lastErr)
	}
	return v.on, text
}

func stampUTC(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// watchValidation repeats the resolver's validation check on t's schedule and follows a
// conclusive result: it switches the DANE stage on or off, logs the change and counts it.
// An inconclusive result changes nothing but the time of the next check.
func (d *Daemon) watchValidation(ctx context.Context, t validationTimers) {
	for {
		d.validation.mu.Lock()
		wait := t.next(d.validation.on, d.validation.inconclusive)
		d.validation.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		d.applyValidationCheck(checkValidation(d.parts.Resolver, d.cfg))
	}
}

// applyValidationCheck acts on one validation check's result (nil: the resolver validates).
func (d *Daemon) applyValidationCheck(err error) {
	v, now := &d.validation, time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastCheck = now
	switch {
	case err == nil:
		d.metrics.validationChecks.WithLabelValues("validating").Inc()
		v.inconclusive, v.lastErr = 0, ""
		if !v.on {
			d.parts.Engine.SetDANE(d.parts.DANE, "")
			v.on, v.reason, v.since = true, "", now
			d.metrics.validating.Set(1)
			d.metrics.daneChanges.WithLabelValues("on").Inc()
			d.log.Info("DANE ENABLED: the resolver now passes the DNSSEC validation check")
		}
	case dnsclient.NotValidating(err):
		d.metrics.validationChecks.WithLabelValues("not_validating").Inc()
		v.inconclusive, v.lastErr = 0, ""
		if v.on {
			d.parts.Engine.SetDANE(nil, err.Error())
			v.on, v.reason, v.since = false, err.Error(), now
			d.metrics.validating.Set(0)
			d.metrics.daneChanges.WithLabelValues("off").Inc()
			d.log.Error("DANE DISABLED: the resolver no longer validates DNSSEC; domains known to use DANE and profiles requiring it answer TEMP until it does", "err", err)
		}
	default:
		d.metrics.validationChecks.WithLabelValues("inconclusive").Inc()
		v.inconclusive++
		v.lastErr = err.Error()
		state := "off"
		if v.on {
			state = "on"
		}
		d.log.Warn("DNSSEC validation check inconclusive; the DANE stage stays "+state,
			"err", err, "in_a_row", v.inconclusive)
	}
}
