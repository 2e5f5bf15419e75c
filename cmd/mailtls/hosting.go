package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/hosting"
	"github.com/mailtls/mailtls/hosting/check"
)

// cmdHosting runs `mailtls hosting records|check [DOMAIN…]`. Both compute the policies
// in this process from the configuration (ids are content-derived, so they equal what
// the daemon serves for the same configuration) and need no running daemon.
func cmdHosting(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, "Usage: mailtls hosting records|check [DOMAIN…] [-json] [-cert-warn D] [-config FILE] [-v]\n")
		return 0
	}
	if len(args) == 0 || (args[0] != "records" && args[0] != "check") {
		fmt.Fprint(stderr, "Usage: mailtls hosting records|check [DOMAIN…] [-json] [-cert-warn D] [-config FILE] [-v]\n")
		return 2
	}
	sub := args[0]
	fs := newFlagSet("hosting "+sub, "hosting "+sub+" [DOMAIN…] [-json] [-cert-warn D] [-config FILE] [-v]", stderr)
	cf := addConfigFlags(fs)
	asJSON := fs.Bool("json", false, "print findings as JSON (check)")
	certWarn := fs.Duration("cert-warn", check.DefaultCertWarning, "a certificate expiring sooner than this is a problem (check)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagExit(err)
	}
	cfg, loc, err := cf.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s:\n%v\n", loc, err)
		return 1
	}
	if !cfg.Hosting.Enabled() {
		fmt.Fprintln(stderr, "mailtls: no hosted domains (hosting.domains is empty)")
		return 1
	}
	tools, err := daemon.NewHostingTools(cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return 1
	}
	state, err := hosting.OpenState(cfg.StateDirPath())
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: %v (safe-removal times unknown)\n", err)
		state = nil
	}
	specs := hosting.SpecsFromConfig(&cfg.Hosting)
	if state != nil {
		retiring, _ := hosting.RetiringSpecs(state, specs, time.Now())
		specs = append(specs, retiring...)
	}
	if len(pos) > 0 {
		var sel []hosting.Spec
		for _, d := range pos {
			i := slices.IndexFunc(specs, func(s hosting.Spec) bool { return s.Domain == d })
			if i < 0 {
				fmt.Fprintf(stderr, "mailtls: %s is not a hosted domain\n", d)
				return 1
			}
			sel = append(sel, specs[i])
		}
		specs = sel
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(specs)+1)*(2*cfg.MTASTS.FetchTimeout.D()+5*time.Second))
	defer cancel()
	if sub == "records" {
		return hostingRecords(ctx, cfg, tools, specs, stdout, stderr)
	}
	c := &check.Checker{Resolver: tools.Resolver, Fetcher: tools.Fetcher, Dial: tools.Resolver.DialContext,
		Roots: tools.Roots, Builder: tools.Builder, State: state, CertWarning: *certWarn}
	var all []check.Finding
	for _, s := range specs {
		fs := c.Check(ctx, s)
		all = append(all, fs...)
		if !*asJSON {
			for _, f := range fs {
				fmt.Fprintln(stdout, f)
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(all)
	}
	if check.Failed(all) {
		return 1
	}
	return 0
}

func hostingRecords(ctx context.Context, cfg *config.Config, tools *daemon.HostingTools, specs []hosting.Spec, stdout, stderr io.Writer) int {
	o := hosting.RecordOptions{Address: cfg.Hosting.Address, CNAME: cfg.Hosting.CNAME, TLSRPT: cfg.Hosting.TLSRPT}
	status := 0
	for i, s := range specs {
		p, _ := tools.Builder.Build(ctx, s, nil, time.Now())
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := hosting.WriteRecords(stdout, p, o); err != nil {
			fmt.Fprintf(stderr, "mailtls: %v\n", err)
			status = 1
		}
	}
	return status
}
