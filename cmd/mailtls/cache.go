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
	"text/tabwriter"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/policy"
)

func cmdCache(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cache", "cache list [FILTER] | show DOMAIN | purge DOMAIN|-all  [-json] [-config FILE] [-v]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	all := fs.Bool("all", false, "with purge: forget every domain")
	cf := addConfigFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	cfg, loc, err := cf.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s:\n%v\n", loc, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &cacheCmd{cfg: cfg, ctl: daemon.NewControl(cfg.ControlPath()), stderr: stderr}
	defer c.close()

	switch {
	case pos[0] == "list" && len(pos) <= 2:
		filter := ""
		if len(pos) == 2 {
			filter = pos[1]
		}
		var list []policy.CacheEntry
		if err := c.do(ctx, http.MethodGet, "/v1/cache", url.Values{"filter": {filter}}, &list,
			func(e *policy.Engine) any { return e.CacheList(filter) }); err != nil {
			return fail(stderr, err)
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DOMAIN\tSTATE\tMODE\tID\tEXPIRES\tLAST USED")
		for _, e := range list {
			state := e.State
			if e.DiskOnly {
				state += " (on disk)" // not loaded into memory yet; lookups read it there
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Domain, state, dash(e.Mode), dash(e.PolicyID), when(e.Expires), when(e.LastUsed))
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d domains\n", len(list))
		return 0
	case pos[0] == "show" && len(pos) == 2:
		var e policy.CacheEntry
		err := c.do(ctx, http.MethodGet, "/v1/cache/"+url.PathEscape(pos[1]), nil, &e, func(en *policy.Engine) any {
			if v, ok := en.CacheShow(pos[1]); ok {
				return v
			}
			return &daemon.APIError{Status: http.StatusNotFound, Msg: "not cached"}
		})
		if err != nil {
			return fail(stderr, err)
		}
		return printJSON(stdout, e)
	case pos[0] == "purge" && (len(pos) == 2) != *all:
		domain, path := "", "/v1/cache"
		if !*all {
			domain, path = pos[1], "/v1/cache/"+url.PathEscape(pos[1])
		}
		var r struct{ Purged int }
		if err := c.do(ctx, http.MethodDelete, path, nil, &r,
			func(e *policy.Engine) any { return map[string]int{"purged": e.Purge(ctx, domain)} }); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "purged %d domains\n", r.Purged)
		return 0
	}
	fs.Usage()
	return 2
}

// cacheCmd runs a cache command against the running daemon, or, when none runs, against
// the persistent store opened in this process.
type cacheCmd struct {
	cfg    *config.Config
	ctl    *daemon.Control
	stderr io.Writer
	parts  *daemon.Parts
}

func (c *cacheCmd) do(ctx context.Context, method, path string, q url.Values, out any, offline func(*policy.Engine) any) error {
	err := c.ctl.Call(ctx, method, path, q, out)
	if !errors.Is(err, daemon.ErrNotRunning) {
		return err
	}
	fmt.Fprintf(c.stderr, "(no daemon running: reading the store %s directly)\n", c.cfg.CachePath())
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.parts, err = daemon.Build(c.cfg, log, true); err != nil {
		return err
	}
	if _, err := c.parts.Engine.Load(ctx); err != nil {
		return err
	}
	v := offline(c.parts.Engine)
	if e, ok := v.(error); ok {
		return e
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (c *cacheCmd) close() {
	if c.parts != nil && c.parts.Backend != nil {
		c.parts.Backend.Close()
	}
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "mailtls: %v\n", err)
	return 1
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
