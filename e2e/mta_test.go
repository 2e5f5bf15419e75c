package e2e

import (
	"strings"
	"testing"
	"time"
)

// sendingMTA is a sending MTA other than the suite's own Postfix (Exim, Haraka), run
// inside the namespace with its mailtls integration set up as the README tells an
// operator. The scenarios of mta_scenarios_test.go run against each one; adding an MTA
// is one file implementing this and one t.Run in TestE2E.
type sendingMTA interface {
	// name is the MTA as test names and messages call it ("Exim 4.96").
	name() string
	// send submits a message from senderDefault to rcpt with tok in its headers and body,
	// and returns the MTA's id for it and a mark of the MTA's log from before the
	// submission (the MTA may try to deliver it at once).
	send(t *testing.T, rcpt, tok string) (id string, mark int64)
	// waitAttempt waits (bounded) for the first delivery attempt of id the MTA logged
	// after mark and says what it was.
	waitAttempt(t *testing.T, id string, mark int64) mtaAttempt
	// retry makes the MTA try id again now, retry times ignored (a forced queue run), and
	// returns a mark of its log from before.
	retry(t *testing.T, id string) int64
	// queued reports whether id is still in the MTA's queue.
	queued(t *testing.T, id string) bool
	// reason is the text the MTA logs with a deferral of kind k, as seen in its logs.
	reason(k deferral) string
}

// deferral is why a scenario expects a message to be deferred.
type deferral int

const (
	deferNoTLS    deferral = iota // TLS required, the MX (behind the stripper) offered none
	deferCertName                 // trusted chain, but the certificate names another host
	deferDANE                     // no TLSA record matches the MX's certificate
	deferNoMX                     // no MX host matches the MTA-STS policy's mx patterns
	deferNoPolicy                 // mailtls did not answer
)

func (k deferral) String() string {
	return [...]string{"no STARTTLS", "certificate name", "DANE TLSA mismatch", "no MX matching the policy", "mailtls unreachable"}[k]
}

// mtaAttempt is one delivery attempt as the MTA logged it.
type mtaAttempt struct {
	delivered bool
	host      string // MX host delivered to (or, for a deferral, the one tried last; "" when none)
	addr      string // its address
	tls       bool   // the message went over TLS
	// verified is how the server's certificate was checked: "ca" (a trusted CA and the
	// MX host name), "dane" (a TLSA record), "" not verified.
	verified string
	reason   string   // deferral reason as logged
	lines    []string // the MTA's log lines of this attempt
}

func (a mtaAttempt) String() string { return strings.Join(a.lines, "\n") }

// expectMTASent asserts a delivery of id to mx over TLS verified as verified says: the
// MTA's log, its queue (the message gone), the receiver's Received: header (with
// ESMTPS), and exactly one copy at the receiver once both queues are empty.
func (w *world) expectMTASent(t *testing.T, m sendingMTA, a mtaAttempt, id, verified, mx, tok string) {
	t.Helper()
	if !a.delivered {
		t.Fatalf("%s: not delivered (%s):\n%s", m.name(), a.reason, a)
	}
	if a.host != mx {
		t.Errorf("%s delivered to %q, want %s:\n%s", m.name(), a.host, mx, a)
	}
	if !a.tls || a.verified != verified {
		t.Errorf("%s delivered with tls=%v verified=%q, want TLS verified by %q:\n%s", m.name(), a.tls, a.verified, verified, a)
	}
	if n := w.waitDelivered(t, tok, 1); n != 1 {
		t.Errorf("receiver holds %d copies of %s, want 1", n, tok)
	}
	for deadline := time.Now().Add(20 * time.Second); m.queued(t, id); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: message %s still queued after its delivery", m.name(), id)
		}
		time.Sleep(150 * time.Millisecond)
	}
	w.receiver.waitQueue(t, "an empty queue", func(qs []queued) bool { return len(qs) == 0 })
	msgs := w.messages(t, tok)
	if len(msgs) != 1 {
		t.Fatalf("receiver holds %d copies of %s once both queues are empty, want exactly 1", len(msgs), tok)
	}
	rcvd := receivedByReceiver(msgs[0])
	t.Logf("receiver: %s", rcvd)
	const by = "by receiver.e2e.test (Postfix) with ESMTPS id"
	if !strings.Contains(rcvd, by) || !strings.Contains(rcvd, "(using TLS") {
		t.Errorf("receiver's header %q: want %q and the TLS protocol", rcvd, by)
	}
}

// expectMTADeferred asserts a deferral of kind k: the MTA's reason, the message still
// queued, nothing at the receiver.
func (w *world) expectMTADeferred(t *testing.T, m sendingMTA, a mtaAttempt, id string, k deferral, tok string) {
	t.Helper()
	if a.delivered {
		t.Fatalf("%s delivered the message, want it deferred (%s):\n%s", m.name(), k, a)
	}
	if want := m.reason(k); !strings.Contains(a.reason, want) {
		t.Errorf("%s deferred with %q, want %q (%s):\n%s", m.name(), a.reason, want, k, a)
	}
	if !m.queued(t, id) {
		t.Errorf("%s: message %s is not queued after the deferral", m.name(), id)
	}
	if n := w.delivered(t, tok); n != 0 {
		t.Errorf("receiver holds %d copies of %s, want none", n, tok)
	}
}
