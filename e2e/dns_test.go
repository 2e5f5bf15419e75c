package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// zone is one zone Knot serves inside the namespace.
type zone struct {
	name   string
	signed bool     // Knot signs it automatically (ECDSA P-256, NSEC)
	anchor bool     // Unbound trusts its key and reaches it as a stub zone
	lines  []string // zone-file lines after SOA and NS
}

// dnsAnswer is what netprobe prints for one question.
type dnsAnswer struct {
	Rcode  string   `json:"rcode"`
	AD     bool     `json:"ad"`
	Answer []string `json:"answer"`
}

// ask sends one question to server from inside the namespace.
func (w *world) ask(server, name, qtype string) (dnsAnswer, error) {
	var a dnsAnswer
	out, err := w.ns.output(w.bin.netprobe, "dns", server, name, qtype)
	if err != nil {
		return a, err
	}
	err = json.Unmarshal([]byte(out), &a)
	return a, err
}

// startDNS runs Knot on addrKnot:53 with zones and Unbound on addrUnbound:53, validating
// with the anchored signed zones' keys as trust anchors.
func (w *world) startDNS(t *testing.T, zones []zone) {
	t.Helper()
	kdir := filepath.Join(w.dir, "knot")
	must(t, os.MkdirAll(filepath.Join(kdir, "db"), 0o755))
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "server:\n  listen: %s@53\n  rundir: %s\n", addrKnot, kdir)
	fmt.Fprintf(&conf, "log:\n  - target: %s/knot.log\n    any: info\n", kdir)
	fmt.Fprintf(&conf, "database:\n  storage: %s/db\n", kdir)
	conf.WriteString("policy:\n  - id: e2e\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n    nsec3: off\n    dnskey-ttl: 300\n    zone-max-ttl: 300\n    propagation-delay: 0\n")
	fmt.Fprintf(&conf, "template:\n  - id: default\n    storage: %s\n    zonefile-sync: -1\n    journal-content: none\n", kdir)
	conf.WriteString("zone:\n")
	for _, z := range zones {
		fmt.Fprintf(&conf, "  - domain: %s\n", z.name)
		if z.signed {
			conf.WriteString("    dnssec-signing: on\n    dnssec-policy: e2e\n")
		}
		var zf bytes.Buffer
		fmt.Fprintf(&zf, "$ORIGIN %s.\n$TTL 300\n@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n@ NS ns.%s.\nns.%s. A %s\n",
			z.name, z.name, z.name, z.name, z.name, addrKnot)
		for _, line := range z.lines {
			zf.WriteString(line + "\n")
		}
		must(t, os.WriteFile(filepath.Join(kdir, z.name+".zone"), zf.Bytes(), 0o644))
	}
	kconf := filepath.Join(kdir, "knot.conf")
	must(t, os.WriteFile(kconf, conf.Bytes(), 0o644))
	w.ns.start(t, "knot", w.logs, w.bin.knotd, "-c", kconf)

	var anchors bytes.Buffer
	for _, z := range zones {
		if z.anchor && z.signed {
			for _, k := range w.waitDNSKEY(t, z.name) {
				anchors.WriteString(k + "\n")
			}
		}
	}
	udir := filepath.Join(w.dir, "unbound")
	must(t, os.MkdirAll(udir, 0o755))
	anchorFile := filepath.Join(udir, "anchors")
	must(t, os.WriteFile(anchorFile, anchors.Bytes(), 0o644))
	var u bytes.Buffer
	fmt.Fprintf(&u, `server:
  interface: %s
  port: 53
  do-ip6: no
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: "%s/unbound.pid"
  use-syslog: no
  logfile: "%s/unbound.log"
  verbosity: 1
  val-log-level: 2
  trust-anchor-file: "%s"
  module-config: "validator iterator"
  access-control: 127.0.0.0/8 allow
  qname-minimisation: no
  aggressive-nsec: no
  prefetch: no
  cache-max-ttl: 5
  cache-max-negative-ttl: 5
  local-zone: "test." nodefault
  local-zone: "e2e.test." static
`, addrUnbound, udir, udir, udir, anchorFile)
	for _, z := range zones {
		if z.anchor && !z.signed {
			fmt.Fprintf(&u, "  domain-insecure: %q\n", z.name)
		}
	}
	for _, z := range zones {
		if z.anchor {
			fmt.Fprintf(&u, "stub-zone:\n  name: %q\n  stub-addr: %s@53\n", z.name, addrKnot)
		}
	}
	u.WriteString("remote-control:\n  control-enable: no\n")
	uconf := filepath.Join(udir, "unbound.conf")
	must(t, os.WriteFile(uconf, u.Bytes(), 0o644))
	w.ns.start(t, "unbound", w.logs, w.bin.unbound, "-d", "-c", uconf)
	if err := w.ns.wait(w.bin.netprobe, addrUnbound+":53"); err != nil {
		t.Fatalf("unbound: %v", err)
	}
}

// waitDNSKEY asks Knot for zone's DNSKEY RRset until signing has produced it.
func (w *world) waitDNSKEY(t *testing.T, zone string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := w.ask(addrKnot+":53", zone, "DNSKEY")
		var keys []string
		for _, s := range a.Answer {
			if rr, perr := dns.NewRR(s); perr == nil && rr.Header().Rrtype == dns.TypeDNSKEY {
				keys = append(keys, s)
			}
		}
		if len(keys) > 0 {
			return keys
		}
		if time.Now().After(deadline) {
			t.Fatalf("knot did not sign %s in time (last error %v)", zone, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// wait waits until a TCP listener accepts at addr inside the namespace.
func (n *netns) wait(netprobe, addr string) error {
	_, err := n.output(netprobe, "tcp", addr, "15s")
	return err
}
