package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mailtls/mailtls/daemon"
)

func cmdQuery(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("query", "query DOMAIN [-profile P] [-json] [-local] [-explain=false] [-config FILE] [-v]", stderr)
	profile := fs.String("profile", "postfix", "profile (socketmap map name) to answer for")
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	local := fs.Bool("local", false, "resolve in this process even if a daemon is running (its cache is not used)")
	explain := fs.Bool("explain", true, "print the reasons behind the answer")
	cf := addConfigFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	cfg, loc, err := cf.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s:\n%v\n", loc, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.MTASTS.FetchTimeout.D()+10*time.Second)
	defer cancel()

	var resp daemon.QueryResponse
	where := "answered by the running daemon"
	err = daemon.ErrNotRunning
	if !*local {
		err = daemon.NewControl(cfg.ControlPath()).Call(ctx, http.MethodGet, "/v1/query",
			url.Values{"profile": {*profile}, "key": {pos[0]}}, &resp)
	}
	switch {
	case err == nil:
	case errors.Is(err, daemon.ErrNotRunning):
		where = "resolved in this process (no daemon on " + cfg.ControlPath() + ")"
		if *local {
			where = "resolved in this process (-local)"
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		parts, err := daemon.Build(cfg, log, false)
		if err != nil {
			fmt.Fprintf(stderr, "mailtls: %v\n", err)
			return 1
		}
		prof, ok := parts.Profiles[*profile]
		if !ok {
			fmt.Fprintf(stderr, "mailtls: no profile %q in the configuration\n", *profile)
			return 1
		}
		resp.Decision = parts.Engine.Resolve(ctx, prof, pos[0])
		resp.Reply = resp.Decision.PostfixReply()
	case errors.Is(err, daemon.ErrControlDenied):
		fmt.Fprintf(stderr, "mailtls: %v, or pass -local to resolve in this process (without the daemon's cache)\n", err)
		return 1
	default:
		fmt.Fprintf(stderr, "mailtls: %v\n", err)
		return 1
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(resp)
		return 0
	}
	d := resp.Decision
	fmt.Fprintf(stdout, "%s  (profile %s, %s)\n", d.Key, d.Profile, where)
	fmt.Fprintf(stdout, "  reply:   %s\n", strings.TrimSpace(resp.Reply))
	src := string(d.Source)
	if d.CacheHit {
		src += ", from cache"
	}
	fmt.Fprintf(stdout, "  source:  %s\n", src)
	if !d.Expires.IsZero() {
		fmt.Fprintf(stdout, "  valid until: %s\n", d.Expires.UTC().Format(time.RFC3339))
	}
	if *explain {
		fmt.Fprintln(stdout, "  why:")
		for _, r := range d.Reasons() {
			fmt.Fprintf(stdout, "    - %s\n", r)
		}
	}
	return 0
}
