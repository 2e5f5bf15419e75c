package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test domains. dane.test is DNSSEC-signed (a trust anchor of Unbound); sts.test is
// unsigned, so its domains can only be protected by MTA-STS.
const (
	domEnforce   = "enforce.sts.test"   // MTA-STS enforce, MX behind a path that can strip
	domWrongName = "wrongname.sts.test" // MTA-STS enforce, MX path presents a wrong-name certificate
	domTesting   = "testing.sts.test"   // MTA-STS testing, MX behind the stripper
	domNoPolicy  = "nopolicy.sts.test"  // no policy, MX behind the stripper
	domDown      = "down.sts.test"      // MTA-STS enforce, used while mailtls is stopped
	domDaneGood  = "good.dane.test"     // TLSA 3 1 1 matches the receiver's key
	domDaneBad   = "bad.dane.test"      // TLSA 3 1 1 does not match
	domBoth      = "both.dane.test"     // non-matching TLSA and a valid MTA-STS enforce policy

	// MTA-STS enforce domains whose MX set holds hosts outside the policy's mx patterns
	// (RFC 8461 §4.1): a sender must not deliver to those, even over verified TLS (the
	// receiver's certificate covers their names too, so only the pattern check stops it).
	domMXMixed   = "mxmixed.sts.test" // preferred MX (10) outside the patterns, MX 20 inside
	domMXOutside = "mxnone.sts.test"  // its only MX is outside the patterns

	// Smart hosts reached as [host]:587 (the sender's transport map routes mail for the
	// domain of the same name there): DANE is the host's own, at _587._tcp.<host>.
	relayNoTLSA = "relay1.dane.test" // TLSA only at _25._tcp, and an MX set with DANE
	relayGood   = "relay2.dane.test" // _587._tcp TLSA matches the receiver's key
	relayBad    = "relay3.dane.test" // _587._tcp TLSA matches nothing
	relayPort   = "587"

	// mailtls's resolver self-check (config dane.check_signed / check_bogus): a secure
	// name, and a name under a delegation whose DS matches no key.
	checkSigned = "ok.dane.test"
	checkBogus  = "www.bogus.dane.test"

	// wrongName is the name in the attacker's certificate (issued by the test CA, so
	// only the name is wrong).
	wrongName = "mx.attacker.e2e.test"
)

// mxHost is an MX host of an sts.test domain. Each has an address of its own with a path
// process (cmd/stripper) on it in front of the receiver, so the path's log shows whether a
// sender connected to that host at all.
type mxHost struct {
	name string // host name (its A record is addr)
	pref int    // MX preference
	addr string // the path process's address
	mode string // the path's mode when the topology starts: relay, strip or wrongcert
}

// stsDomain is a domain of the unsigned sts.test zone: its MX set and, when it publishes
// one, its MTA-STS policy's mode and mx patterns.
type stsDomain struct {
	name   string
	mx     []mxHost
	mode   string   // "enforce", "testing", or "" for no policy
	policy []string // the policy's mx patterns
}

// stsDomains is the sts.test zone's domains.
func stsDomains() []stsDomain {
	one := func(d, mode, ip, pathMode string) stsDomain {
		sd := stsDomain{name: d, mode: mode, mx: []mxHost{{name: "mx." + d, pref: 10, addr: ip, mode: pathMode}}}
		if mode != "" {
			sd.policy = []string{"mx." + d}
		}
		return sd
	}
	return []stsDomain{
		one(domEnforce, "enforce", "127.0.2.1", "relay"),
		one(domWrongName, "enforce", "127.0.2.2", "wrongcert"),
		one(domTesting, "testing", "127.0.2.3", "strip"),
		one(domNoPolicy, "", "127.0.2.4", "strip"),
		one(domDown, "enforce", "127.0.2.5", "strip"),
		{name: domMXMixed, mode: "enforce", policy: []string{"mx." + domMXMixed},
			mx: []mxHost{
				{name: "mx." + domMXMixed, pref: 20, addr: "127.0.2.6", mode: "relay"},
				{name: "other." + domMXMixed, pref: 10, addr: "127.0.2.7", mode: "relay"},
			}},
		{name: domMXOutside, mode: "enforce", policy: []string{"mx." + domMXOutside},
			mx: []mxHost{{name: "other." + domMXOutside, pref: 10, addr: "127.0.2.8", mode: "relay"}}},
	}
}

// pathAddrs maps the MX hosts of the sts.test domains to the address of the path process
// (stripper) in front of the receiver.
func pathAddrs() map[string]string {
	m := map[string]string{}
	for _, d := range stsDomains() {
		for _, h := range d.mx {
			m[h.name] = h.addr
		}
	}
	return m
}

// initialPaths is each path's mode when the topology starts.
func initialPaths() map[string]string {
	m := map[string]string{}
	for _, d := range stsDomains() {
		for _, h := range d.mx {
			m[h.name] = h.mode
		}
	}
	return m
}

// policies are the MTA-STS policies served (RFC 8461 §3.2), by domain.
func policies() map[string]string {
	m := map[string]string{domBoth: stsPolicy("enforce", "mx."+domBoth)}
	for _, d := range stsDomains() {
		if d.mode != "" {
			m[d.name] = stsPolicy(d.mode, d.policy...)
		}
	}
	return m
}

// receiverDomains are the domains the receiver accepts mail for.
func receiverDomains() []string {
	ds := []string{domDaneGood, domDaneBad, domBoth, relayNoTLSA, relayGood, relayBad}
	for _, d := range stsDomains() {
		ds = append(ds, d.name)
	}
	return ds
}

func stsPolicy(mode string, mx ...string) string {
	s := "version: STSv1\r\nmode: " + mode + "\r\n"
	for _, p := range mx {
		s += "mx: " + p + "\r\n"
	}
	return s + "max_age: 86400\r\n"
}

// mxNames are the names the receiver's certificate covers: every MX host.
func mxNames() []string {
	names := []string{"mx." + domDaneGood, "mx." + domDaneBad, "mx." + domBoth}
	for mx := range pathAddrs() {
		names = append(names, mx)
	}
	return names
}

// zones builds the zone contents; goodTLSA is the receiver's SPKI SHA-256.
func zones(goodTLSA string) []zone {
	badTLSA := strings.Repeat("ab", 32)
	dane := []string{
		"ok A 127.0.0.9",
		"bogus NS ns",
		"bogus DS 12345 13 2 " + strings.Repeat("00", 32),
	}
	for _, d := range []struct{ label, tlsa string }{{"good", goodTLSA}, {"bad", badTLSA}, {"both", badTLSA}} {
		dane = append(dane,
			fmt.Sprintf("%s MX 10 mx.%s", d.label, d.label),
			fmt.Sprintf("mx.%s A %s", d.label, addrReceiver),
			fmt.Sprintf("_25._tcp.mx.%s TLSA 3 1 1 %s", d.label, d.tlsa))
	}
	dane = append(dane, stsRecords("both")...)
	dane = append(dane, tlsrptRecords(domDaneGood, domDaneBad)...)
	// The relays are the receiver itself, listening on port 587 as well.
	for _, r := range []struct{ label, tlsa string }{{"relay1", ""}, {"relay2", goodTLSA}, {"relay3", badTLSA}} {
		dane = append(dane, fmt.Sprintf("%s A %s", r.label, addrReceiver))
		if r.tlsa != "" {
			dane = append(dane, fmt.Sprintf("_%s._tcp.%s TLSA 3 1 1 %s", relayPort, r.label, r.tlsa))
		}
	}
	// relay1's name has port-25 TLSA and, as a domain, an MX set with DANE: neither may
	// decide for [relay1.dane.test]:587 (conformance.md §1).
	dane = append(dane, "_25._tcp.relay1 TLSA 3 1 1 "+goodTLSA, "relay1 MX 10 mx.good")
	var sts []string
	for _, d := range stsDomains() {
		label := strings.TrimSuffix(d.name, ".sts.test")
		for _, h := range d.mx {
			sts = append(sts, fmt.Sprintf("%s MX %d %s.", label, h.pref, h.name), fmt.Sprintf("%s. A %s", h.name, h.addr))
		}
		if d.mode != "" {
			sts = append(sts, stsRecords(label)...)
		}
	}
	sts = append(sts, tlsrptRecords(domEnforce, domWrongName)...)
	return []zone{
		{name: "dane.test", signed: true, anchor: true, lines: dane},
		{name: "bogus.dane.test", signed: true, lines: []string{"www A 127.0.0.9"}},
		{name: "sts.test", anchor: true, lines: sts},
	}
}

// stsRecords publishes MTA-STS for label (RFC 8461 §3.1 TXT record, policy host address).
func stsRecords(label string) []string {
	return []string{
		fmt.Sprintf(`_mta-sts.%s TXT "v=STSv1; id=e2e1;"`, label),
		fmt.Sprintf("mta-sts.%s A %s", label, addrPolicy),
	}
}

// startPolicyHost writes the policies and serves them on addrPolicy:443.
func (w *world) startPolicyHost(t *testing.T) {
	t.Helper()
	dir := filepath.Join(w.dir, "policies")
	must(t, os.MkdirAll(dir, 0o755))
	var names []string
	for d, body := range policies() {
		names = append(names, "mta-sts."+d)
		must(t, os.WriteFile(filepath.Join(dir, "mta-sts."+d), []byte(body), 0o644))
	}
	c, k := w.writePEM(t, "policyhost", names...)
	w.ns.start(t, "policyhost", w.logs, w.bin.policyhost, "-listen", addrPolicy+":443", "-dir", dir, "-cert", c, "-key", k)
	if err := w.ns.wait(w.bin.netprobe, addrPolicy+":443"); err != nil {
		t.Fatalf("policyhost: %v", err)
	}
}
