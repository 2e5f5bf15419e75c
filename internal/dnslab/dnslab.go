// Package dnslab runs real DNS for integration tests: Knot DNS serving the test's zones
// (signed automatically, or left unsigned) and Unbound as the DNSSEC-validating resolver in
// front of it, with the signed zones' keys as its trust anchors. Both listen on loopback
// ports of their own and stop when the test ends.
//
// The binaries come from the Debian packages knot and unbound; a missing binary skips the
// test, or fails it under MAILTLS_REQUIRE_INTEGRATION=1 (internal/testenv).
package dnslab

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/testenv"
)

// Zone is one zone Knot serves.
type Zone struct {
	Name   string   // e.g. "lab.test"
	Signed bool     // Knot signs it (ECDSA P-256, NSEC)
	Lines  []string // zone-file lines after SOA and NS, relative to the origin or absolute
	// Anchor makes the zone's key a trust anchor of Unbound and the zone a stub of it.
	// Leave it false for a zone delegated from another zone of the lab (its parent
	// carries the DS, or a deliberately wrong one).
	Anchor bool
}

// Lab is a running Knot + Unbound pair.
type Lab struct {
	Resolver string // Unbound, "127.0.0.1:port": the validating resolver to configure
	Auth     string // Knot, "127.0.0.1:port"
	Dir      string
}

// Start writes the zones, starts Knot, waits until the signed zones are signed, installs
// their keys as Unbound's trust anchors and starts Unbound.
func Start(t testing.TB, zones ...Zone) *Lab {
	t.Helper()
	knotd := testenv.LookPath(t, "knotd", "Debian package knot")
	unbound := testenv.LookPath(t, "unbound", "Debian package unbound")
	l := &Lab{Dir: t.TempDir()}
	l.Auth = freePort(t)
	l.Resolver = freePort(t)

	kdir := filepath.Join(l.Dir, "knot")
	must(t, os.MkdirAll(filepath.Join(kdir, "db"), 0o755))
	var conf bytes.Buffer
	host, port, _ := net.SplitHostPort(l.Auth)
	fmt.Fprintf(&conf, "server:\n  listen: %s@%s\n  rundir: %s\n", host, port, kdir)
	fmt.Fprintf(&conf, "log:\n  - target: %s/knot.log\n    any: info\n", kdir)
	fmt.Fprintf(&conf, "database:\n  storage: %s/db\n", kdir)
	conf.WriteString("policy:\n  - id: lab\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n    nsec3: off\n    dnskey-ttl: 300\n    zone-max-ttl: 300\n    propagation-delay: 0\n")
	fmt.Fprintf(&conf, "template:\n  - id: default\n    storage: %s\n    zonefile-sync: -1\n    journal-content: none\n", kdir)
	conf.WriteString("zone:\n")
	for _, z := range zones {
		fmt.Fprintf(&conf, "  - domain: %s\n", z.Name)
		if z.Signed {
			conf.WriteString("    dnssec-signing: on\n    dnssec-policy: lab\n")
		}
		var zf bytes.Buffer
		fmt.Fprintf(&zf, "$ORIGIN %s.\n$TTL 300\n@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n@ NS ns.%s.\nns.%s. A %s\n",
			z.Name, z.Name, z.Name, z.Name, z.Name, host)
		for _, line := range z.Lines {
			zf.WriteString(line + "\n")
		}
		must(t, os.WriteFile(filepath.Join(kdir, z.Name+".zone"), zf.Bytes(), 0o644))
	}
	confPath := filepath.Join(kdir, "knot.conf")
	must(t, os.WriteFile(confPath, conf.Bytes(), 0o644))
	start(t, filepath.Join(kdir, "out.log"), knotd, "-c", confPath)

	// Trust anchors: the DNSKEY RRsets of the anchored signed zones, once Knot has signed them.
	var anchors bytes.Buffer
	for _, z := range zones {
		if !z.Anchor {
			continue
		}
		if !z.Signed {
			continue
		}
		for _, k := range waitDNSKEY(t, l.Auth, z.Name) {
			anchors.WriteString(k.String() + "\n")
		}
	}
	udir := filepath.Join(l.Dir, "unbound")
	must(t, os.MkdirAll(udir, 0o755))
	anchorFile := filepath.Join(udir, "anchors")
	must(t, os.WriteFile(anchorFile, anchors.Bytes(), 0o644))
	uhost, uport, _ := net.SplitHostPort(l.Resolver)
	var u bytes.Buffer
	fmt.Fprintf(&u, `server:
  interface: %s@%s
  port: %s
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
`, uhost, uport, uport, udir, udir, udir, anchorFile)
	for _, z := range zones {
		if z.Anchor && !z.Signed {
			fmt.Fprintf(&u, "  domain-insecure: %q\n", z.Name)
		}
	}
	for _, z := range zones {
		if z.Anchor {
			fmt.Fprintf(&u, "stub-zone:\n  name: %q\n  stub-addr: %s@%s\n", z.Name, host, port)
		}
	}
	u.WriteString("remote-control:\n  control-enable: no\n")
	uconf := filepath.Join(udir, "unbound.conf")
	must(t, os.WriteFile(uconf, u.Bytes(), 0o644))
	start(t, filepath.Join(udir, "out.log"), unbound, "-d", "-c", uconf)
	waitAnswer(t, l.Resolver)
	return l
}

// start runs a server in the foreground of a child process until the test ends.
func start(t testing.TB, logPath, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(logPath)
	must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s output:\n%s", filepath.Base(bin), b)
		}
	})
}

// waitDNSKEY asks Knot for zone's DNSKEY RRset until signing has produced it.
func waitDNSKEY(t testing.TB, auth, zone string) []dns.RR {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(zone), dns.TypeDNSKEY)
		m.SetEdns0(1232, true)
		r, _, err := new(dns.Client).Exchange(m, auth)
		if err == nil && len(r.Answer) > 0 {
			var keys []dns.RR
			for _, rr := range r.Answer {
				if k, ok := rr.(*dns.DNSKEY); ok {
					keys = append(keys, k)
				}
			}
			if len(keys) > 0 {
				return keys
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnslab: Knot did not sign %s in time (last error %v)", zone, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAnswer waits until the resolver answers at all.
func waitAnswer(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion("test.", dns.TypeSOA)
		c := &dns.Client{Timeout: 300 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _, err := c.ExchangeContext(ctx, m, addr)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnslab: Unbound did not answer on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort finds a loopback port free for both UDP and TCP.
func freePort(t testing.TB) string {
	t.Helper()
	for range 50 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(40000))
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ul, err := net.ListenPacket("udp", addr)
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return addr
	}
	t.Fatal("dnslab: no free port")
	return ""
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
