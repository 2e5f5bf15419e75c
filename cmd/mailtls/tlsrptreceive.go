package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/tlsrpt/receiver"
)

// sysexits(3) codes for `tlsrpt ingest`, as Postfix's pipe(8) and local(8) read them:
// EX_DATAERR and EX_NOPERM bounce the message, EX_TEMPFAIL and EX_CONFIG defer it.
const (
	exOK       = 0
	exUsage    = 64
	exDataErr  = 65
	exTempFail = 75
	exNoPerm   = 77
	exConfig   = 78
)

const ingestUsage = "Usage: mailtls tlsrpt ingest [-config FILE] [-v] < message\n"

// cmdTLSRPTIngest runs `mailtls tlsrpt ingest`: one RFC 5322 message on stdin (from a
// Postfix pipe transport or an alias), accepted into the received-report store only
// with an aligned, verifying DKIM signature (README "TLS reports you receive").
func cmdTLSRPTIngest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("tlsrpt ingest", "tlsrpt ingest [-config FILE] [-v] < message", stderr)
	cf := addConfigFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if flagExit(err) == 0 {
			return 0
		}
		return exUsage
	}
	if len(pos) != 0 {
		fmt.Fprint(stderr, ingestUsage)
		return exUsage
	}
	cfg, loc, err := cf.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s: %v\n", loc, err)
		return exConfig
	}
	if !cfg.TLSRPTReceiver.Enabled {
		fmt.Fprintf(stderr, "mailtls: tlsrpt_receiver.enabled is false in %s: not accepting TLS reports\n", loc)
		return exConfig
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	rc, err := daemon.ReceiverFromConfig(cfg, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return exTempFail
	}
	defer rc.Store.Close()
	max := receiver.MaxMessage(rc.Limits)
	msg, err := io.ReadAll(io.LimitReader(stdin, max+1))
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: reading the message: %v\n", err)
		return exTempFail
	}
	// local(8) may prepend an mbox "From " envelope line: it is not a header.
	if bytes.HasPrefix(msg, []byte("From ")) {
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
	}
	if int64(len(msg)) > max {
		fmt.Fprintf(stderr, "mailtls: message over %d bytes: not a TLS report this receiver accepts\n", max)
		return exDataErr
	}
	dc, err := resolverFor(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return exTempFail
	}
	timeout := cfg.TLSRPTReceiver.DNSTimeout.D()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	dnsCtx, cancelDNS := context.WithTimeout(ctx, timeout)
	defer cancelDNS()
	r, isNew, err := rc.AcceptMail(ctx, msg, receiver.LookupTXT(dnsCtx, dc))
	switch {
	case err == nil:
		what := "stored"
		if !isNew {
			what = "already stored (duplicate)"
		}
		fmt.Fprintf(stdout, "TLS report %s from %s: %s\n", r.ReportID, r.OrganizationName, what)
		return exOK
	case errors.Is(err, receiver.ErrTempFail):
		fmt.Fprintf(stderr, "mailtls: TLS report deferred: %v\n", err)
		return exTempFail
	case errors.Is(err, receiver.ErrUnsigned), errors.Is(err, receiver.ErrNotOurs):
		fmt.Fprintf(stderr, "mailtls: TLS report rejected: %v\n", err)
		return exNoPerm
	case errors.Is(err, receiver.ErrNoReport), errors.Is(err, receiver.ErrMalformed), errors.Is(err, receiver.ErrTooLarge):
		fmt.Fprintf(stderr, "mailtls: TLS report rejected: %v\n", err)
		return exDataErr
	}
	fmt.Fprintf(stderr, "mailtls: TLS report not stored (will be retried): %v\n", err)
	return exTempFail
}

// resolverFor is the configured resolver (resolver.servers, else resolv.conf).
func resolverFor(cfg *config.Config) (*dnsclient.Client, error) {
	servers := cfg.Resolver.Servers
	if len(servers) == 0 {
		var err error
		if servers, err = dnsclient.ServersFromResolvConf(cfg.Resolver.ResolvConf); err != nil {
			return nil, fmt.Errorf("resolver: no servers configured and %s unusable: %w", cfg.Resolver.ResolvConf, err)
		}
	}
	return dnsclient.New(dnsclient.Config{Servers: servers, Timeout: cfg.Resolver.Timeout.D()})
}

const summaryUsage = "Usage: mailtls tlsrpt summary [DOMAIN] [-since 30d] [-json] [-limit N] [-config FILE] [-v]\n"

// cmdTLSRPTSummary runs `mailtls tlsrpt summary`: the received reports per day, policy
// domain and reporting organisation.
func cmdTLSRPTSummary(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("tlsrpt summary", "tlsrpt summary [DOMAIN] [-since 30d] [-json] [-limit N] [-config FILE] [-v]", stderr)
	cf := addConfigFlags(fs)
	since := fs.String("since", "30d", "first day covered: Nd (days back), a Go duration, a date (2006-01-02) or \"all\"")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	limit := fs.Int("limit", receiver.DefaultSummaryLimit, "rows at most (oldest first)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 1 {
		fmt.Fprint(stderr, summaryUsage)
		return 2
	}
	q := receiver.SummaryQuery{Limit: *limit}
	if len(pos) == 1 {
		q.Domain = pos[0]
	}
	if q.Since, err = parseSince(*since, time.Now()); err != nil {
		fmt.Fprintf(stderr, "mailtls: -since: %v\n", err)
		return 2
	}
	cfg, loc, err := cf.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s:\n%v\n", loc, err)
		return 1
	}
	path := cfg.TLSRPTReceivedPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "mailtls: no received-report database at %s (tlsrpt_receiver.enabled is %v)\n", path, cfg.TLSRPTReceiver.Enabled)
		return 1
	}
	st, err := receiver.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return 1
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := st.Summary(ctx, q)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return 1
	}
	if s.Rows == nil {
		s.Rows = []receiver.SummaryRow{}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return 0
	}
	writeSummary(stdout, s, cfg.TLSRPTReceiver.AlertFailureRate)
	if s.Truncated {
		fmt.Fprintf(stdout, "(only the first %d rows: narrow with DOMAIN or -since, or raise -limit)\n", len(s.Rows))
	}
	return 0
}

// writeSummary prints s as a table; rows at or over threshold (when > 0) are marked "!".
func writeSummary(w io.Writer, s *receiver.Summary, threshold float64) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tDOMAIN\tORGANIZATION\tREPORTS\tSUCCESSFUL\tFAILED\tFAILURE %\tFAILURE TYPES\tMX HOSTS\tSENDING MTAS")
	for _, r := range s.Rows {
		mark := ""
		if threshold > 0 && r.Failed > 0 && r.FailureRate() >= threshold {
			mark = " !"
		}
		var types []string
		for _, k := range slices.Sorted(maps.Keys(r.ResultTypes)) {
			types = append(types, k+"="+strconv.FormatInt(r.ResultTypes[k], 10))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.1f%s\t%s\t%s\t%s\n", r.Day, r.Domain, r.Organization, r.Reports, r.Successful, r.Failed,
			100*r.FailureRate(), mark, dash(strings.Join(types, ",")), dash(strings.Join(r.MXHosts, ",")), dash(strings.Join(r.SendingMTAs, ",")))
	}
	tw.Flush()
	if len(s.Rows) == 0 {
		fmt.Fprintln(w, "(no reports received in this period)")
	}
}

// parseSince reads -since: "Nd", a Go duration, a date, or "all".
func parseSince(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "all" || s == "":
		return time.Time{}, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q is not a number of days", s)
		}
		return now.UTC().AddDate(0, 0, -n), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither Nd, a duration, a date (2006-01-02) nor \"all\"", s)
}
