package compare

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// params are the run's knobs, from the environment (scripts/compare.sh passes them on).
type params struct {
	duration time.Duration // measured period of each point (MAILTLS_COMPARE_DURATION, 10s)
	warmup   time.Duration // unmeasured period before it (MAILTLS_COMPARE_WARMUP, 2s)
	domains  int           // MTA-STS domains, and as many without a policy (MAILTLS_COMPARE_DOMAINS, 1000)
	conns    []int         // connection counts (MAILTLS_COMPARE_CONNS, "1,8,32")
	rounds   int           // runs of every point, the table shows the median (MAILTLS_COMPARE_ROUNDS, 1)
	out      string        // also write the table here (MAILTLS_COMPARE_OUT)
	bin      string        // a built mailtls binary; empty: build one (MAILTLS_COMPARE_BIN)
	peer     string        // the peer's daemon (MAILTLS_COMPARE_PEER, /usr/bin/mta-sts-daemon)
	unbound  string        // the peer's local resolver (MAILTLS_COMPARE_UNBOUND, /usr/sbin/unbound)
}

func paramsFromEnv(getenv func(string) string) (params, error) {
	p := params{duration: 10 * time.Second, warmup: 2 * time.Second, domains: 1000,
		conns: []int{1, 8, 32}, rounds: 1, out: getenv("MAILTLS_COMPARE_OUT"), bin: getenv("MAILTLS_COMPARE_BIN"),
		peer: "/usr/bin/mta-sts-daemon", unbound: "/usr/sbin/unbound"}
	var err error
	if v := getenv("MAILTLS_COMPARE_DURATION"); v != "" {
		if p.duration, err = time.ParseDuration(v); err != nil || p.duration <= 0 {
			return p, fmt.Errorf("MAILTLS_COMPARE_DURATION=%q: want a positive duration", v)
		}
	}
	if v := getenv("MAILTLS_COMPARE_WARMUP"); v != "" {
		if p.warmup, err = time.ParseDuration(v); err != nil || p.warmup < 0 {
			return p, fmt.Errorf("MAILTLS_COMPARE_WARMUP=%q: want a duration", v)
		}
	}
	if v := getenv("MAILTLS_COMPARE_DOMAINS"); v != "" {
		if p.domains, err = strconv.Atoi(v); err != nil || p.domains < 20 {
			return p, fmt.Errorf("MAILTLS_COMPARE_DOMAINS=%q: want a number ≥ 20", v)
		}
	}
	if v := getenv("MAILTLS_COMPARE_ROUNDS"); v != "" {
		if p.rounds, err = strconv.Atoi(v); err != nil || p.rounds < 1 {
			return p, fmt.Errorf("MAILTLS_COMPARE_ROUNDS=%q: want a number ≥ 1", v)
		}
	}
	if v := getenv("MAILTLS_COMPARE_CONNS"); v != "" {
		p.conns = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return p, fmt.Errorf("MAILTLS_COMPARE_CONNS=%q: want numbers ≥ 1, comma-separated", v)
			}
			p.conns = append(p.conns, n)
		}
	}
	if v := getenv("MAILTLS_COMPARE_PEER"); v != "" {
		p.peer = v
	}
	if v := getenv("MAILTLS_COMPARE_UNBOUND"); v != "" {
		p.unbound = v
	}
	return p, nil
}
