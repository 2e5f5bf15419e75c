package compare

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
)

// mapName is the socketmap name sent with each key: mailtls's profile for plain Postfix
// answers; the peer has no zone by that name and uses its default zone.
const mapName = "postfix"

// nullReply is the null server's answer, as long as a typical real one.
const nullReply = "OK secure match=mx.sts-00001.example:.backup.sts-00001.example servername=hostname"

// TestCompare runs the same cached load against the null server, postfix-mta-sts-resolver
// and mailtls, and prints one table. See doc.go and scripts/compare.sh.
func TestCompare(t *testing.T) {
	testenv.OptIn(t, "MAILTLS_COMPARE", "side-by-side comparison: bash scripts/compare.sh (sets MAILTLS_COMPARE=1 inside a network namespace)")
	p, err := paramsFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := isolated(); err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{p.peer, p.unbound} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%v (scripts/compare.sh installs postfix-mta-sts-resolver and unbound)", err)
		}
	}

	// The lab: its DNS server, policy hosts on port 443 of a loopback address, the
	// workload published in both. mailtls asks the lab's DNS server directly (it needs
	// the AD bit for DANE); the peer asks Unbound on 127.0.0.1:53 (resolv.conf), which
	// forwards to it and caches.
	l := lab.New(t)
	w := newWorkload(p.domains)
	w.publish(l)
	all := w.all()

	// Each target is a process of its own: the null server too (mailtls bench null, a
	// socketmap server answering one fixed reply), so that none shares the load
	// generator's process.
	bin := mailtlsBinary(t, p.bin)
	nullAddr, peerAddr, mailtlsAddr := listenAddr(t), listenAddr(t), listenAddr(t)
	resolver := startResolver(t, p.unbound, l.DNS.Addr)
	null := startProc(t, "null", nullAddr, nil, bin, "bench", "null", "-listen", nullAddr, "-reply", nullReply)
	peer := startPeer(t, p.peer, peerAddr, l.CAFile, 4*len(all))
	mailtls := startMailtls(t, bin, mailtlsAddr, l)
	t.Logf("mailtls: %s; peer: %s; %d CPUs; %d MTA-STS domains, %d without a policy",
		mailtlsVersion(bin), p.peer, runtime.NumCPU(), len(w.sts), len(w.none))

	// Warm both daemons with every domain, then ask again and require the expected
	// answer from both, so that the load measures the same work on each.
	targets := []struct {
		name, addr string
		proc       *proc
	}{{"peer", peerAddr, peer}, {"mailtls", mailtlsAddr, mailtls}}
	for _, tg := range targets {
		if _, err := askAll(tg.addr, mapName, names(all), 16); err != nil {
			t.Fatalf("warming %s: %v\n%s", tg.name, err, tg.proc.tail())
		}
	}
	var mismatches int
	for _, tg := range targets {
		got, err := askAll(tg.addr, mapName, names(all), 4)
		if err != nil {
			t.Fatalf("checking %s: %v\n%s", tg.name, err, tg.proc.tail())
		}
		for _, d := range all {
			if a := parseAnswer(got[d.name]); !a.equal(d.want) {
				if mismatches++; mismatches <= 20 {
					t.Errorf("%s answered %s with %q, want %v", tg.name, d.name, got[d.name], d.want)
				}
			}
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d answers differ from the expected ones; the load would not measure the same work", mismatches)
	}
	t.Logf("both daemons give the expected answer for all %d domains", len(all))

	// The load: per connection count, null then peer then mailtls, so a drift in the
	// machine affects all three alike. "mixed" cycles over every domain (the issue's
	// workload); "policy" over the MTA-STS domains alone, which both daemons answer from
	// their cache (the peer does not cache "no policy" and asks DNS each time); "none"
	// over the domains without a policy alone (mailtls's negative cache).
	loads := []struct {
		name string
		keys []string
	}{{"mixed", names(all)}, {"policy", nil}, {"none", nil}}
	for _, d := range all {
		if d.want.kind == "OK" {
			loads[1].keys = append(loads[1].keys, d.name)
		} else {
			loads[2].keys = append(loads[2].keys, d.name)
		}
	}
	addrs := map[string]string{"null": nullAddr, "peer": peerAddr, "mailtls": mailtlsAddr}
	type point struct {
		workload string
		conns    int
		target   string
	}
	var order []point
	samples := map[point][]row{}
	env := &bench{lab: l, resolver: resolver, procs: []*proc{resolver.proc, null, peer, mailtls}, p: p}
	for round := range p.rounds {
		for _, ld := range loads {
			for _, c := range p.conns {
				for _, target := range []string{"null", "peer", "mailtls"} {
					pt := point{ld.name, c, target}
					if round == 0 {
						order = append(order, pt)
					}
					samples[pt] = append(samples[pt], env.measure(t, ld.name, ld.keys, c, target, addrs[target]))
				}
			}
		}
	}
	var rows []row
	for _, pt := range order {
		rows = append(rows, median(samples[pt]))
	}

	t.Logf("Unbound queries by type, whole run: %s", resolver.typeCounts())

	var b bytes.Buffer
	fmt.Fprintf(&b, "# %d MTA-STS enforce domains + %d without a policy (%d NXDOMAIN), strict request→reply, %v measured after %v warm-up per point, median of %d rounds, %d CPUs\n# q/reply: DNS queries the lab's server and Unbound (the peer's resolver) received per reply, over the measured period\n",
		len(w.sts), len(w.none), len(w.none)/20, p.duration, p.warmup, p.rounds, runtime.NumCPU())
	writeTable(&b, rows)
	fmt.Fprintln(&b)
	for _, ld := range loads {
		for _, v := range verdicts(rows, ld.name, p.conns) {
			fmt.Fprintln(&b, v)
		}
	}
	for _, v := range negativeVerdicts(rows, p.conns) {
		fmt.Fprintln(&b, v)
	}
	t.Log("\n" + b.String())
	if p.out != "" {
		if err := os.WriteFile(p.out, b.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
}
