package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestE2E runs every scenario against one topology, in order: real messages through the
// sending Postfix, which asks mailtls over socketmap and enforces its answer.
func TestE2E(t *testing.T) {
	begin := time.Now()
	w := setup(t)
	defer func() { t.Logf("suite took %v", time.Since(begin).Round(time.Millisecond)) }()

	t.Run("1 MTA-STS enforce, honest path: delivered over verified TLS", w.scenarioEnforceHonest)
	t.Run("2 MTA-STS enforce behind STARTTLS stripping: deferred, then delivered once", w.scenarioEnforceStripped)
	t.Run("3 MTA-STS enforce, MX certificate for the wrong name: deferred", w.scenarioWrongName)
	t.Run("4a DANE, matching TLSA: delivered over verified TLS", w.scenarioDaneGood)
	t.Run("4b DANE, TLSA not matching: deferred", w.scenarioDaneBad)
	t.Run("5 DANE fails, valid MTA-STS does not rescue it: deferred", w.scenarioBoth)
	t.Run("6 MTA-STS testing and no policy behind the stripper: delivered in plaintext", w.scenarioBaseline)
	t.Run("7 smart host [relay]:587: DANE from _587._tcp.<relay> only", w.scenarioSmartHost)
	// Last: it stops and restarts mailtls.
	t.Run("8 mailtls stopped: deferred, restarted: delivered", w.scenarioMailtlsDown)
	// After the others: it adds Postfix 3.10 as a second sender and restarts mailtls with
	// its TLSRPT collector.
	t.Run("9 TLS reporting: Postfix 3.10 through the scenarios, the day's reports", w.scenarioTLSRPT)
	// Other sending MTAs through the same network, each with its mailtls integration
	// (mta_scenarios_test.go).
	t.Run("10 Exim 4.96 (Debian 12 exim4-daemon-heavy) through the scenarios", func(t *testing.T) { w.mtaScenarios(t, w.startExim(t)) })
	t.Run("11 Haraka (npm Haraka, haraka-plugin-mailtls) through the scenarios", func(t *testing.T) { w.mtaScenarios(t, w.startHaraka(t)) })
}

// token makes a unique message marker for a scenario.
func token(name string) string {
	return fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
}

// expectAnswer asserts mailtls's socketmap reply for domain.
func (w *world) expectAnswer(t *testing.T, domain, wantPrefix string) {
	t.Helper()
	got := w.answer(t, domain)
	t.Logf("mailtls answers %s: %s", domain, got)
	if !strings.HasPrefix(got, wantPrefix) {
		t.Fatalf("mailtls answers %s with %q, want %q…", domain, got, wantPrefix)
	}
}

// expectSent asserts a delivery of message id over TLS verified the way tlsPrefix says
// ("Verified"), or in plaintext when tlsPrefix is empty: the sender's log, its queue (the
// message gone), the receiver's Received: header (with ESMTPS, or plain ESMTP), and,
// once both queues are empty, exactly one copy at the receiver.
func (w *world) expectSent(t *testing.T, a attempt, id, tlsPrefix, mx, tok string) {
	t.Helper()
	if a.Status != "sent" {
		t.Fatalf("status %s (%s), want sent", a.Status, a.Reason)
	}
	if !strings.HasPrefix(a.Relay, mx+"[") {
		t.Errorf("relay %s, want %s", a.Relay, mx)
	}
	switch {
	case tlsPrefix == "" && a.TLS != "":
		t.Errorf("want a plaintext delivery, Postfix logged %q", a.TLS)
	case tlsPrefix != "" && !strings.HasPrefix(a.TLS, tlsPrefix+" TLS connection established to "+mx+"["):
		t.Errorf("want %q TLS to %s, Postfix logged %q", tlsPrefix, mx, a.TLS)
	}
	if n := w.waitDelivered(t, tok, 1); n != 1 {
		t.Errorf("receiver holds %d copies of %s, want 1", n, tok)
	}
	// "Exactly once", counted when nothing is left to deliver anywhere.
	w.sender.waitQueue(t, "message "+id+" to leave the queue", func(qs []queued) bool {
		for _, q := range qs {
			if q.QueueID == id {
				return false
			}
		}
		return true
	})
	w.receiver.waitQueue(t, "an empty queue", func(qs []queued) bool { return len(qs) == 0 })
	msgs := w.messages(t, tok)
	if len(msgs) != 1 {
		t.Fatalf("receiver holds %d copies of %s once both queues are empty, want exactly 1", len(msgs), tok)
	}
	rcvd := receivedByReceiver(msgs[0])
	t.Logf("receiver: %s", rcvd)
	const by = "by receiver.e2e.test (Postfix) with "
	switch {
	case tlsPrefix != "" && (!strings.Contains(rcvd, by+"ESMTPS id") || !strings.Contains(rcvd, "(using TLS")):
		t.Errorf("receiver's header %q: want %q and the TLS protocol", rcvd, by+"ESMTPS")
	case tlsPrefix == "" && (!strings.Contains(rcvd, by+"ESMTP id") || strings.Contains(rcvd, "using TLS")):
		t.Errorf("receiver's header %q: want %q, no TLS", rcvd, by+"ESMTP")
	}
}

// expectPath asserts what the path process in front of mx logged after mark: each of
// want, and none of not.
func (w *world) expectPath(t *testing.T, mx string, mark int64, want, not []string) {
	t.Helper()
	log := w.paths[mx].logSince(mark)
	for _, s := range want {
		if !strings.Contains(log, s) {
			t.Errorf("path %s did not log %q:\n%s", mx, s, log)
		}
	}
	for _, s := range not {
		if strings.Contains(log, s) {
			t.Errorf("path %s logged %q:\n%s", mx, s, log)
		}
	}
}

// What the path process (e2e/cmd/stripper) logs.
const (
	pathSession   = `msg=session `                                    // a connection went through the path
	pathRelay     = `strip=false wrongcert=false`                     // … in mode relay (bytes copied)
	pathStripped  = `msg="removed STARTTLS from the EHLO reply"`      // mode strip at work
	pathWrongCert = `msg="terminated TLS with the wrong certificate"` // mode wrongcert at work
)

// expectDeferred asserts a deferral whose reason contains reason, with the message still
// queued as deferred and nothing at the receiver.
func (w *world) expectDeferred(t *testing.T, a attempt, id, reason, tok string) {
	t.Helper()
	if a.Status != "deferred" {
		t.Fatalf("status %s (%s), want deferred", a.Status, a.Reason)
	}
	if !strings.Contains(a.Reason, reason) {
		t.Errorf("deferral reason %q, want it to contain %q", a.Reason, reason)
	}
	q := w.sender.inQueue(t, id)
	if q == nil || q.QueueName != "deferred" {
		t.Errorf("message %s: queue entry %+v, want it in the deferred queue", id, q)
	} else if len(q.Recipients) != 1 || !strings.Contains(q.Recipients[0].DelayReason, reason) {
		t.Errorf("message %s: queue entry %+v, want delay reason %q", id, q, reason)
	}
	if n := w.delivered(t, tok); n != 0 {
		t.Errorf("receiver holds %d copies of %s, want none", n, tok)
	}
}

// expectLogged asserts that the sender logged a line containing fragment after mark.
func (w *world) expectLogged(t *testing.T, mark int64, fragment string) {
	t.Helper()
	if !w.sender.logHas(mark, fragment) {
		t.Errorf("sender did not log %q", fragment)
	}
}

// waitDelivered waits (bounded) until the receiver holds want copies of tok (its
// virtual(8) delivery runs after the sender logged status=sent), then returns the count.
func (w *world) waitDelivered(t *testing.T, tok string, want int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := w.delivered(t, tok)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(150 * time.Millisecond)
	}
}
