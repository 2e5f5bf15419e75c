package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/mailtls/mailtls/tlsrpt/store"
)

const tlsrptUsage = "Usage: mailtls tlsrpt pending|sent [-json] [-config FILE] [-v]\n       mailtls tlsrpt show REPORT-ID [-config FILE] [-v]\n"

// cmdTLSRPT runs `mailtls tlsrpt pending|sent|show ID`: what will be sent, what was sent
// and where, and a report's JSON, read from the TLS reporting database (README "TLS
// reports you send"). It works with or without a running daemon.
func cmdTLSRPT(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, tlsrptUsage)
		return 0
	}
	if len(args) == 0 || (args[0] != "pending" && args[0] != "sent" && args[0] != "show") {
		fmt.Fprint(stderr, tlsrptUsage)
		return 2
	}
	sub := args[0]
	fs := newFlagSet("tlsrpt "+sub, "tlsrpt "+sub+" [-json] [-config FILE] [-v]", stderr)
	cf := addConfigFlags(fs)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagExit(err)
	}
	if (sub == "show") != (len(pos) == 1) {
		fmt.Fprint(stderr, tlsrptUsage)
		return 2
	}
	cfg, loc, err := cf.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s:\n%v\n", loc, err)
		return 1
	}
	path := cfg.TLSRPTPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "mailtls: no TLS reporting database at %s (tlsrpt.enabled is %v)\n", path, cfg.TLSRPT.Enabled)
		return 1
	}
	st, err := store.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return 1
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if sub == "show" {
		b, err := st.Report(ctx, pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "mailtls: %v\n", err)
			return 1
		}
		var v any
		if json.Unmarshal(b, &v) == nil {
			b, _ = json.MarshalIndent(v, "", "  ")
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	state := store.StatePending
	if sub == "sent" {
		state = "" // sent and given up: what happened to each
	}
	ds, err := st.Deliveries(ctx, state)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return 1
	}
	if sub == "sent" {
		done := ds[:0]
		for _, d := range ds {
			if d.State != store.StatePending {
				done = append(done, d)
			}
		}
		ds = done
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if ds == nil {
			ds = []store.Delivery{}
		}
		enc.Encode(ds)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	if sub == "pending" {
		fmt.Fprintln(tw, "DAY\tDOMAIN\tDESTINATION\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR\tREPORT-ID")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.Day, d.Domain, d.URI, d.Attempts, d.NextAttempt.Format(time.RFC3339), d.LastError, d.ReportID)
		}
	} else {
		fmt.Fprintln(tw, "DAY\tDOMAIN\tDESTINATION\tOUTCOME\tAT\tATTEMPTS\tLAST ERROR\tREPORT-ID")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Day, d.Domain, d.URI, d.State, d.DoneAt.Format(time.RFC3339), d.Attempts, d.LastError, d.ReportID)
		}
	}
	tw.Flush()
	return 0
}
