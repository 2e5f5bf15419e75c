package e2e

import (
	"strings"
	"testing"
)

// Reasons Postfix's smtp(8) gives when it defers.
const (
	reasonNoTLS        = "TLS is required, but was not offered"
	reasonNotVerified  = "Server certificate not verified"
	reasonLookupFailed = "client TLS configuration problem"
	untrustedTLSTo     = "Untrusted TLS connection established to "
	dnssecUnavailable  = "DNSSEC validation may be unavailable"
	hostnameMismatch   = ":25: num=62:hostname mismatch"
	noMatchingTLSA     = ":25: num=65:no matching DANE TLSA records"
	verificationFailed = "server certificate verification failed for "
)

// Scenario 1: MTA-STS enforce (RFC 8461 §5), honest path → verified TLS, delivered.
func (w *world) scenarioEnforceHonest(t *testing.T) {
	mx := "mx." + domEnforce
	w.setPath(t, mx, "relay")
	w.expectAnswer(t, domEnforce, "secure match="+mx)
	tok := token("s1")
	pmark := w.paths[mx].logSize()
	id, mark := w.send(t, "user@"+domEnforce, tok)
	w.expectSent(t, w.sender.waitAttempt(t, id, mark), id, "Verified", mx, tok)
	w.expectPath(t, mx, pmark, []string{pathSession, pathRelay}, []string{pathStripped})
}

// Scenario 2: the attacker strips STARTTLS; the enforce policy makes Postfix defer
// (RFC 8461 §5: "MUST NOT deliver"); once the path is honest again a flush delivers it once.
func (w *world) scenarioEnforceStripped(t *testing.T) {
	mx := "mx." + domEnforce
	w.setPath(t, mx, "strip")
	tok := token("s2")
	pmark := w.paths[mx].logSize()
	id, mark := w.send(t, "user@"+domEnforce, tok)
	w.expectDeferred(t, w.sender.waitAttempt(t, id, mark), id, reasonNoTLS, tok)
	// The attacker's own log: it removed STARTTLS from what the sender saw.
	w.expectPath(t, mx, pmark, []string{pathSession, pathStripped}, nil)

	w.setPath(t, mx, "relay")
	pmark = w.paths[mx].logSize()
	mark = w.sender.logSize()
	w.sender.flush(t)
	w.expectSent(t, w.sender.waitAttempt(t, id, mark), id, "Verified", mx, tok)
	w.expectPath(t, mx, pmark, []string{pathSession, pathRelay}, []string{pathStripped})
}

// Scenario 3: the MX (an attacker on its address) presents a certificate from a trusted CA
// for another name; RFC 8461 §4.2 requires the name to match the MX host → deferred.
func (w *world) scenarioWrongName(t *testing.T) {
	w.expectAnswer(t, domWrongName, "secure match=mx."+domWrongName)
	mx := "mx." + domWrongName
	tok := token("s3")
	id, mark := w.send(t, "user@"+domWrongName, tok)
	a := w.sender.waitAttempt(t, id, mark)
	w.expectDeferred(t, a, id, reasonNotVerified, tok)
	// TLS was established with the attacker, whose certificate chains to the trusted CA:
	// only the name fails.
	if !strings.HasPrefix(a.TLS, untrustedTLSTo+mx+"[") {
		t.Errorf("want an untrusted TLS session with %s, Postfix logged %q", mx, a.TLS)
	}
	w.expectLogged(t, mark, verificationFailed+mx+"["+pathAddrs()[mx]+"]"+hostnameMismatch)
	// The attacker's own log: it answered STARTTLS with its certificate.
	w.expectPath(t, mx, 0, []string{pathWrongCert}, nil)
}

// Scenario 4a: DANE-EE SPKI SHA-256 matches (RFC 7672 §3.1.1) → verified, delivered.
func (w *world) scenarioDaneGood(t *testing.T) {
	w.expectAnswer(t, domDaneGood, "dane-only")
	tok := token("s4a")
	id, mark := w.send(t, "user@"+domDaneGood, tok)
	w.expectSent(t, w.sender.waitAttempt(t, id, mark), id, "Verified", "mx."+domDaneGood, tok)
	if w.sender.logHas(0, dnssecUnavailable) {
		t.Errorf("sender logged %q: Postfix's resolver does not pass the AD bit", dnssecUnavailable)
	}
}

// Scenario 4b: the TLSA record matches no certificate of the MX; RFC 7672 §2.2 → deferred.
func (w *world) scenarioDaneBad(t *testing.T) {
	w.expectAnswer(t, domDaneBad, "dane-only")
	tok := token("s4b")
	id, mark := w.send(t, "user@"+domDaneBad, tok)
	w.expectDeferred(t, w.sender.waitAttempt(t, id, mark), id, reasonNotVerified, tok)
	w.expectLogged(t, mark, verificationFailed+"mx."+domDaneBad+"["+addrReceiver+"]"+noMatchingTLSA)
}

// Scenario 5: DANE and MTA-STS both published, DANE fails; RFC 8461 §2: MTA-STS must not
// override failing DANE validation, so mailtls answers dane-only and the mail waits. The
// control shows that the MTA-STS policy itself is valid and fetched: the same domain under
// the nodane profile (DANE stage off) is answered secure, and a message sent through it
// (the sender's control transport) is delivered over verified TLS.
func (w *world) scenarioBoth(t *testing.T) {
	mx := "mx." + domBoth
	w.expectAnswer(t, domBoth, "dane-only")
	tok := token("s5")
	id, mark := w.send(t, "user@"+domBoth, tok)
	w.expectDeferred(t, w.sender.waitAttempt(t, id, mark), id, reasonNotVerified, tok)
	w.expectLogged(t, mark, verificationFailed+mx+"["+addrReceiver+"]"+noMatchingTLSA)

	t.Run("control: DANE stage off, the MTA-STS policy delivers", func(t *testing.T) {
		want := "secure match=" + mx + " servername=hostname"
		if got := w.answerFor(t, domBoth, "nodane"); got != want {
			t.Fatalf("nodane profile answers %s with %q, want %q", domBoth, got, want)
		}
		tok := token("s5-control")
		cid, mark := w.sendFrom(t, senderControl, "user@"+domBoth, tok)
		a := w.sender.waitAttempt(t, cid, mark)
		if !strings.Contains(a.Line, "relay="+mx+"[") || !w.sender.logHas(mark, nodaneSyslogName+"/smtp[") {
			t.Errorf("control message did not leave through smtp-nodane: %s", a.Line)
		}
		w.expectSent(t, a, cid, "Verified", mx, tok)
	})
	// The first message is still waiting: the control did not release it.
	if q := w.sender.inQueue(t, id); q == nil || q.QueueName != "deferred" {
		t.Errorf("message %s: queue entry %+v after the control, want it still deferred", id, q)
	}
}

// Scenario 6: the baseline: with an MTA-STS testing policy (RFC 8461 §5: deliver anyway) or
// no policy, the stripping attacker wins and the mail goes out in plaintext.
func (w *world) scenarioBaseline(t *testing.T) {
	for _, d := range []string{domTesting, domNoPolicy} {
		t.Run(d, func(t *testing.T) {
			w.expectAnswer(t, d, "NOTFOUND")
			tok := token("s6")
			pmark := w.paths["mx."+d].logSize()
			id, mark := w.send(t, "user@"+d, tok)
			w.expectSent(t, w.sender.waitAttempt(t, id, mark), id, "", "mx."+d, tok)
			w.expectPath(t, "mx."+d, pmark, []string{pathSession, pathStripped}, nil)
		})
	}
}

// Scenario 8: with mailtls down the policy lookup fails and Postfix defers rather than
// falling back to smtp_tls_security_level (here with the stripper on the path, so a
// downgrade would deliver in plaintext); restarted, mailtls answers and a flush delivers.
func (w *world) scenarioMailtlsDown(t *testing.T) {
	mx := "mx." + domDown
	w.setPath(t, mx, "strip")
	w.mailtls.stop()
	defer func() {
		if !w.mailtls.running() {
			w.startMailtls(t)
		}
	}()
	tok := token("s8")
	pmark := w.paths[mx].logSize()
	id, mark := w.send(t, "user@"+domDown, tok)
	a := w.sender.waitAttempt(t, id, mark)
	w.expectDeferred(t, a, id, reasonLookupFailed, tok)
	if a.Relay != "none" {
		t.Errorf("relay %s: Postfix connected to an MX without a policy answer", a.Relay)
	}
	// The attacker's own log: no connection reached it.
	w.expectPath(t, mx, pmark, nil, []string{pathSession})
	w.expectLogged(t, mark, `smtp_tls_policy_maps, next-hop destination "`+domDown+`": policy table lookup error`)

	w.startMailtls(t)
	w.setPath(t, mx, "relay")
	w.expectAnswer(t, domDown, "secure match="+mx)
	mark = w.sender.logSize()
	w.sender.flush(t)
	w.expectSent(t, w.sender.waitAttempt(t, id, mark), id, "Verified", mx, tok)
}

// Scenario 7: smart hosts on port 587 (conformance.md §1). Postfix connects to [relay]:587
// with no MX lookup, so DANE is the relay's own, with TLSA at _587._tcp.<relay> (RFC 7672
// §2.2.2, RFC 6698 §3). relay1 has TLSA only for port 25 and an MX set with DANE: neither
// applies, mailtls answers NOTFOUND and the mail is delivered (opportunistic TLS), where a
// dane-only answer would make Postfix defer it for want of _587 TLSA records. relay2's
// _587 TLSA matches: dane-only, verified. relay3's does not: deferred, so the port-587
// records are what Postfix enforces.
func (w *world) scenarioSmartHost(t *testing.T) {
	hop := func(relay string) string { return "[" + relay + "]:" + relayPort }
	t.Run("no _587 TLSA: delivered", func(t *testing.T) {
		w.expectAnswer(t, "["+relayNoTLSA+"]", "dane-only") // port 25 has TLSA: a different destination
		w.expectAnswer(t, relayNoTLSA, "dane-only")         // the MX set of the same name, too
		w.expectAnswer(t, hop(relayNoTLSA), "NOTFOUND")
		tok := token("s7a")
		id, mark := w.send(t, "user@"+relayNoTLSA, tok)
		a := w.sender.waitAttempt(t, id, mark)
		w.expectSent(t, a, id, "Trusted", relayNoTLSA, tok)
		if !strings.HasSuffix(a.Relay, ":"+relayPort) {
			t.Errorf("relay %s, want port %s", a.Relay, relayPort)
		}
	})
	t.Run("matching _587 TLSA: delivered over verified TLS", func(t *testing.T) {
		w.expectAnswer(t, hop(relayGood), "dane-only")
		tok := token("s7b")
		id, mark := w.send(t, "user@"+relayGood, tok)
		w.expectSent(t, w.sender.waitAttempt(t, id, mark), id, "Verified", relayGood, tok)
	})
	t.Run("_587 TLSA not matching: deferred", func(t *testing.T) {
		w.expectAnswer(t, hop(relayBad), "dane-only")
		tok := token("s7c")
		id, mark := w.send(t, "user@"+relayBad, tok)
		w.expectDeferred(t, w.sender.waitAttempt(t, id, mark), id, reasonNotVerified, tok)
		w.expectLogged(t, mark, verificationFailed+relayBad+"["+addrReceiver+"]:"+relayPort+": num=65:no matching DANE TLSA records")
	})
}
