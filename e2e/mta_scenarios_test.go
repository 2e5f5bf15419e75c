package e2e

import (
	"strings"
	"testing"
)

// mtaScenarios runs the downgrade scenarios against a sending MTA other than Postfix
// (issue 18): each a real message submitted to m, which asks mailtls through its own
// integration and must enforce the answer.
func (w *world) mtaScenarios(t *testing.T, m sendingMTA) {
	t.Run("1 MTA-STS enforce, honest path: delivered over verified TLS", func(t *testing.T) { w.mtaEnforceHonest(t, m) })
	t.Run("2 MTA-STS enforce behind STARTTLS stripping: deferred, then delivered once", func(t *testing.T) { w.mtaEnforceStripped(t, m) })
	t.Run("3 MTA-STS enforce, MX certificate for the wrong name: deferred", func(t *testing.T) { w.mtaWrongName(t, m) })
	t.Run("4 DANE: matching TLSA delivered, TLSA not matching deferred", func(t *testing.T) { w.mtaDane(t, m) })
	t.Run("5 MTA-STS enforce: MX hosts outside the policy are never used", func(t *testing.T) { w.mtaMXPatterns(t, m) })
	// Last: it stops and restarts mailtls.
	t.Run("6 mailtls stopped: deferred, restarted: delivered", func(t *testing.T) { w.mtaMailtlsDown(t, m) })
}

// 1: MTA-STS enforce (RFC 8461 §5), honest path → verified TLS, delivered.
func (w *world) mtaEnforceHonest(t *testing.T, m sendingMTA) {
	mx := "mx." + domEnforce
	w.setPath(t, mx, "relay")
	w.expectAnswer(t, domEnforce, "secure match="+mx)
	tok := token("mta1")
	pmark := w.paths[mx].logSize()
	id, mark := m.send(t, "user@"+domEnforce, tok)
	w.expectMTASent(t, m, m.waitAttempt(t, id, mark), id, "ca", mx, tok)
	w.expectPath(t, mx, pmark, []string{pathSession, pathRelay}, []string{pathStripped})
}

// 2: the attacker strips STARTTLS; enforce means "MUST NOT deliver" (RFC 8461 §5): the
// message waits in the queue, nothing goes out in plaintext; once the path is honest a
// forced queue run delivers it, once.
func (w *world) mtaEnforceStripped(t *testing.T, m sendingMTA) {
	mx := "mx." + domEnforce
	w.setPath(t, mx, "strip")
	tok := token("mta2")
	pmark := w.paths[mx].logSize()
	id, mark := m.send(t, "user@"+domEnforce, tok)
	w.expectMTADeferred(t, m, m.waitAttempt(t, id, mark), id, deferNoTLS, tok)
	w.expectPath(t, mx, pmark, []string{pathSession, pathStripped}, nil)

	w.setPath(t, mx, "relay")
	pmark = w.paths[mx].logSize()
	mark = m.retry(t, id)
	w.expectMTASent(t, m, m.waitAttempt(t, id, mark), id, "ca", mx, tok)
	w.expectPath(t, mx, pmark, []string{pathSession, pathRelay}, []string{pathStripped})
}

// 3: the MX's address answers STARTTLS with a certificate from a trusted CA for another
// name; RFC 8461 §4.2 requires the MX host name → deferred.
func (w *world) mtaWrongName(t *testing.T, m sendingMTA) {
	mx := "mx." + domWrongName
	w.setPath(t, mx, "wrongcert")
	w.expectAnswer(t, domWrongName, "secure match="+mx)
	tok := token("mta3")
	pmark := w.paths[mx].logSize()
	id, mark := m.send(t, "user@"+domWrongName, tok)
	w.expectMTADeferred(t, m, m.waitAttempt(t, id, mark), id, deferCertName, tok)
	// The path presented the attacker's certificate. Postfix and Exim finish the handshake,
	// then refuse (the path logs that it terminated TLS); Node (Haraka) aborts the handshake
	// itself when the name does not match (the path logs the failed handshake).
	log := w.paths[mx].logSince(pmark)
	if !strings.Contains(log, pathSession) || (!strings.Contains(log, pathWrongCert) && !strings.Contains(log, pathHandshakeAborted)) {
		t.Errorf("path %s: want a session with %q or %q:\n%s", mx, pathWrongCert, pathHandshakeAborted, log)
	}
}

// pathHandshakeAborted: the client gave up during the path's TLS handshake.
const pathHandshakeAborted = `msg="TLS handshake with the client failed"`

// 4: DANE-EE SPKI SHA-256 (RFC 7672 §3.1.1): a matching TLSA record → delivered,
// verified by DANE; a TLSA record matching nothing → deferred (RFC 7672 §2.2).
func (w *world) mtaDane(t *testing.T, m sendingMTA) {
	t.Run("matching TLSA: delivered", func(t *testing.T) {
		w.expectAnswer(t, domDaneGood, "dane-only")
		tok := token("mta4a")
		id, mark := m.send(t, "user@"+domDaneGood, tok)
		a := m.waitAttempt(t, id, mark)
		w.expectMTASent(t, m, a, id, "dane", "mx."+domDaneGood, tok)
	})
	t.Run("TLSA not matching: deferred", func(t *testing.T) {
		w.expectAnswer(t, domDaneBad, "dane-only")
		tok := token("mta4b")
		id, mark := m.send(t, "user@"+domDaneBad, tok)
		a := m.waitAttempt(t, id, mark)
		w.expectMTADeferred(t, m, a, id, deferDANE, tok)
	})
}

// 5: RFC 8461 §4.1: a sender must not deliver to an MX host that matches none of the
// policy's mx patterns. The receiver's certificate covers those hosts' names too, so a
// sender that only verified the certificate against the MX host name would use them; the
// path process in front of each shows whether the MTA connected at all.
func (w *world) mtaMXPatterns(t *testing.T, m sendingMTA) {
	t.Run("preferred MX outside the patterns: delivered through the matching one", func(t *testing.T) {
		in, out := "mx."+domMXMixed, "other."+domMXMixed
		w.setPath(t, in, "relay")
		w.setPath(t, out, "relay")
		w.expectAnswer(t, domMXMixed, "secure match="+in+" ")
		tok := token("mta5a")
		inMark, outMark := w.paths[in].logSize(), w.paths[out].logSize()
		id, mark := m.send(t, "user@"+domMXMixed, tok)
		w.expectMTASent(t, m, m.waitAttempt(t, id, mark), id, "ca", in, tok)
		w.expectPath(t, in, inMark, []string{pathSession, pathRelay}, nil)
		w.expectPath(t, out, outMark, nil, []string{pathSession})
	})
	t.Run("only MX outside the patterns: deferred, never connected", func(t *testing.T) {
		out := "other." + domMXOutside
		w.setPath(t, out, "relay")
		w.expectAnswer(t, domMXOutside, "secure match=mx."+domMXOutside+" ")
		tok := token("mta5b")
		outMark := w.paths[out].logSize()
		id, mark := m.send(t, "user@"+domMXOutside, tok)
		w.expectMTADeferred(t, m, m.waitAttempt(t, id, mark), id, deferNoMX, tok)
		w.expectPath(t, out, outMark, nil, []string{pathSession})
	})
}

// 6: mailtls stopped: the MTA cannot learn the policy and defers instead of falling back
// to opportunistic TLS (the stripper is on the path, so a fallback would deliver in
// plaintext); restarted, a forced queue run delivers over verified TLS.
func (w *world) mtaMailtlsDown(t *testing.T, m sendingMTA) {
	mx := "mx." + domDown
	w.setPath(t, mx, "strip")
	w.mailtls.stop()
	defer func() {
		if !w.mailtls.running() {
			w.startMailtls(t)
		}
	}()
	tok := token("mta6")
	pmark := w.paths[mx].logSize()
	id, mark := m.send(t, "user@"+domDown, tok)
	w.expectMTADeferred(t, m, m.waitAttempt(t, id, mark), id, deferNoPolicy, tok)
	w.expectPath(t, mx, pmark, nil, []string{pathSession})

	w.startMailtls(t)
	w.setPath(t, mx, "relay")
	w.expectAnswer(t, domDown, "secure match="+mx)
	pmark = w.paths[mx].logSize()
	mark = m.retry(t, id)
	w.expectMTASent(t, m, m.waitAttempt(t, id, mark), id, "ca", mx, tok)
	w.expectPath(t, mx, pmark, []string{pathSession, pathRelay}, nil)
}
