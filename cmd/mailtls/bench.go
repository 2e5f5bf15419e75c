package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailtls/mailtls/internal/loadgen"
)

const benchUsage = `Usage:
  mailtls bench load -target NAME=SPEC ... [-keys FILE | -key K ...] [flags]
        drive socketmap servers with the same load, one after another, and compare them
        with the null server measured in the same run
  mailtls bench null [-listen ADDR] [-reply TEXT]
        run the null server: a socketmap server that answers every request with one
        fixed reply (the loopback ceiling)

SPEC is the part of a Postfix socketmap table after "socketmap:":
inet:HOST:PORT:NAME or unix:PATH:NAME. See BENCHMARKS.md.
`

func cmdBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return 2
	}
	switch args[0] {
	case "load":
		return cmdBenchLoad(args[1:], stdout, stderr)
	case "null":
		return cmdBenchNull(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, benchUsage)
		return 0
	}
	fmt.Fprintf(stderr, "mailtls bench: unknown subcommand %q\n\n%s", args[0], benchUsage)
	return 2
}

// cmdBenchNull serves the null server until SIGINT or SIGTERM. With -print-addr it first
// writes the address it listens on to stdout (how bench load starts it as a child).
func cmdBenchNull(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench null", "bench null [-listen ADDR] [-reply TEXT]", stderr)
	listen := fs.String("listen", "127.0.0.1:0", "TCP address, or unix:PATH")
	reply := fs.String("reply", "OK secure match=.example.com servername=hostname", "the reply to every request")
	printAddr := fs.Bool("print-addr", false, "print the socketmap SPEC listened on, then serve")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	network, addr := "tcp", *listen
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls bench null: %v\n", err)
		return 1
	}
	spec := "inet:" + ln.Addr().String() + ":null"
	if network == "unix" {
		spec = "unix:" + addr + ":null"
	}
	if *printAddr {
		fmt.Fprintln(stdout, spec)
	} else {
		fmt.Fprintf(stderr, "mailtls bench null: serving %s\n", spec)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; ln.Close() }()
	if err := loadgen.ServeNull(ln, *reply); err != nil {
		fmt.Fprintf(stderr, "mailtls bench null: %v\n", err)
		return 1
	}
	return 0
}

// target is one server under load.
type target struct {
	Name, Network, Addr, Map string
}

// parseSpec reads a Postfix socketmap table spec: inet:HOST:PORT:NAME or unix:PATH:NAME.
func parseSpec(name, spec string) (target, error) {
	t := target{Name: name}
	rest, ok := strings.CutPrefix(spec, "inet:")
	t.Network = "tcp"
	if !ok {
		if rest, ok = strings.CutPrefix(spec, "unix:"); !ok {
			return t, fmt.Errorf("%q: want inet:HOST:PORT:NAME or unix:PATH:NAME", spec)
		}
		t.Network = "unix"
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || i == len(rest)-1 {
		return t, fmt.Errorf("%q: no map name after the address", spec)
	}
	t.Addr, t.Map = rest[:i], rest[i+1:]
	if t.Network == "tcp" {
		if _, _, err := net.SplitHostPort(t.Addr); err != nil {
			return t, fmt.Errorf("%q: %v", spec, err)
		}
	}
	return t, nil
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func cmdBenchLoad(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench load", "bench load -target NAME=SPEC ... [-keys FILE | -key K ...] [flags]", stderr)
	var targetFlags, keyFlags listFlag
	fs.Var(&targetFlags, "target", "NAME=SPEC of a server to load (repeatable; SPEC as in Postfix: inet:HOST:PORT:MAP or unix:PATH:MAP)")
	fs.Var(&keyFlags, "key", "a lookup key (repeatable)")
	keysFile := fs.String("keys", "", "file with one lookup key per line")
	connsList := fs.String("conns", "1,8,32", "connection counts to measure, comma-separated")
	pipeList := fs.String("pipeline", "1", "requests in flight per connection, comma-separated (1 = strict request→reply, as Postfix)")
	rounds := fs.Int("rounds", 1, "measure every point this many times, round after round (for ranges)")
	duration := fs.Duration("duration", 10*time.Second, "measured period of each point")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured period before each point")
	null := fs.Bool("null", true, "start the null server as a separate process and measure it first at every point")
	nullReply := fs.String("null-reply", "OK secure match=.example.com servername=hostname", "the null server's reply")
	asJSON := fs.Bool("json", false, "print the results as JSON lines instead of a table")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	var targets []target
	for _, tf := range targetFlags {
		name, spec, ok := strings.Cut(tf, "=")
		if !ok {
			name, spec = tf, tf
		}
		t, err := parseSpec(name, spec)
		if err != nil {
			fmt.Fprintf(stderr, "mailtls bench load: -target %v\n", err)
			return 2
		}
		targets = append(targets, t)
	}
	keys, err := readKeys(*keysFile, keyFlags)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls bench load: %v\n", err)
		return 2
	}
	conns, err := positiveList("-conns", *connsList)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls bench load: %v\n", err)
		return 2
	}
	pipelines, err := positiveList("-pipeline", *pipeList)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls bench load: %v\n", err)
		return 2
	}
	if *rounds < 1 {
		fmt.Fprintf(stderr, "mailtls bench load: -rounds: %d is not a positive number\n", *rounds)
		return 2
	}
	if len(targets) == 0 && !*null {
		fmt.Fprintln(stderr, "mailtls bench load: nothing to load: give -target or keep -null")
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if *null {
		nt, stop, err := startNullChild(ctx, *nullReply)
		if err != nil {
			fmt.Fprintf(stderr, "mailtls bench load: null server: %v\n", err)
			return 1
		}
		defer stop()
		targets = append([]target{nt}, targets...)
	}

	rep := newBenchReport(stdout, *asJSON, *null)
	for range *rounds {
		for _, p := range pipelines {
			for _, c := range conns {
				for _, t := range targets {
					res, err := loadgen.Run(ctx, loadgen.Config{Network: t.Network, Addr: t.Addr, Map: t.Map, Keys: keys,
						Conns: c, Pipeline: p, Duration: *duration, Warmup: *warmup})
					if err != nil {
						fmt.Fprintf(stderr, "mailtls bench load: %s at %d connections ×%d: %v\n", t.Name, c, p, err)
						return 1
					}
					rep.add(t.Name, res)
				}
			}
		}
	}
	return 0
}

// positiveList parses a comma-separated list of positive numbers.
func positiveList(flag, list string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", flag, f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// readKeys returns the keys of file (one per line; blank lines and # comments skipped)
// followed by extra.
func readKeys(file string, extra []string) ([]string, error) {
	var keys []string
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k := strings.TrimSpace(sc.Text()); k != "" && !strings.HasPrefix(k, "#") {
				keys = append(keys, k)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	keys = append(keys, extra...)
	if len(keys) == 0 {
		return nil, errors.New("no keys: give -keys FILE or -key K")
	}
	return keys, nil
}

// startNullChild runs "mailtls bench null" as a separate process, so the null server is
// measured on the same footing as the servers under test (its own process, its own
// scheduler), and returns its target and a function that stops it.
func startNullChild(ctx context.Context, reply string) (target, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return target{}, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "null", "-print-addr", "-reply", reply)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return target{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		return target{}, nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return target{}, nil, fmt.Errorf("no address from the child: %v", err)
	}
	t, err := parseSpec("null", strings.TrimSpace(line))
	if err != nil {
		stop()
		return target{}, nil, err
	}
	return t, stop, nil
}

// benchReport prints results as they come: a table, or JSON lines.
type benchReport struct {
	w        io.Writer
	json     bool
	haveNull bool
	nullRate float64
	header   bool
}

func newBenchReport(w io.Writer, asJSON, haveNull bool) *benchReport {
	return &benchReport{w: w, json: asJSON, haveNull: haveNull}
}

func (r *benchReport) add(name string, res *loadgen.Result) {
	if r.haveNull && name == "null" {
		r.nullRate = res.Rate
	}
	ratio := 0.0
	if r.nullRate > 0 {
		ratio = res.Rate / r.nullRate
	}
	if r.json {
		json.NewEncoder(r.w).Encode(map[string]any{
			"target": name, "conns": res.Config.Conns, "pipeline": res.Config.Pipeline,
			"rate": res.Rate, "p50_us": us(res.P50), "p99_us": us(res.P99), "max_us": us(res.Max),
			"requests": res.Requests, "errors": res.Errors, "replies": res.Replies, "vs_null": ratio,
		})
		return
	}
	if !r.header {
		fmt.Fprintf(r.w, "%-10s %5s %5s %10s %9s %9s %9s %7s %6s  %s\n",
			"target", "conns", "pipe", "replies/s", "p50", "p99", "max", "×null", "errors", "replies")
		r.header = true
	}
	vs := "-"
	if r.nullRate > 0 {
		vs = fmt.Sprintf("%.2f", ratio)
	}
	fmt.Fprintf(r.w, "%-10s %5d %5d %10.0f %9s %9s %9s %7s %6d  %s\n", name, res.Config.Conns, res.Config.Pipeline,
		res.Rate, dur(res.P50), dur(res.P99), dur(res.Max), vs, res.Errors, replySummary(res.Replies))
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// dur prints a latency with three significant figures.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", us(d))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func replySummary(m map[string]uint64) string {
	var parts []string
	for _, k := range loadgen.ReplyKinds() {
		if n := m[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	return strings.Join(parts, " ")
}
