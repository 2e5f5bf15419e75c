package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/policy"
	"github.com/mailtls/mailtls/socketmap"
)

// requestTimeout bounds one socketmap answer: long enough for a cold DNS + HTTPS policy
// fetch (fetch_timeout), well inside Postfix's 100 s limit for a policy lookup.
const requestTimeout = 30 * time.Second

// Daemon is a running mailtls.
type Daemon struct {
	cfg   *config.Config
	log   *slog.Logger
	parts *Parts
}

// New builds a daemon from cfg; nothing listens until Run.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	parts, err := Build(cfg, log, true)
	if err != nil {
		return nil, err
	}
	return &Daemon{cfg: cfg, log: log, parts: parts}, nil
}

// Lookup answers one socketmap request: the map name selects the profile
// (conformance.md §1), the key is the next-hop.
func (d *Daemon) Lookup(ctx context.Context, name, key string) string {
	p, ok := d.parts.Profiles[name]
	if !ok {
		return "PERM unknown map name " + fmt.Sprintf("%q", name) + ": not a configured profile"
	}
	start := time.Now()
	dec := d.parts.Engine.Resolve(ctx, p, key)
	reply := dec.PostfixReply()
	d.log.Debug("lookup", "profile", name, "key", key, "reply", reply, "source", dec.Source, "cache_hit", dec.CacheHit, "elapsed", time.Since(start))
	return reply
}

// Run loads the persistent store, opens every listener and serves until ctx ends; then it
// stops accepting, lets in-flight requests finish, flushes the store and returns.
func (d *Daemon) Run(ctx context.Context) error {
	if n, err := d.parts.Engine.Load(ctx); err != nil {
		d.log.Warn("loading the cache store failed; starting cold", "err", err)
	} else if d.parts.Backend != nil {
		d.log.Info("cache loaded", "domains", n, "store", d.cfg.CachePath())
	}

	srv := &socketmap.Server{Handler: d, RequestTimeout: requestTimeout, Logger: d.log}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for _, l := range d.cfg.Listen.Socketmap {
		ln, err := listen(l)
		if err != nil {
			closeAll()
			return err
		}
		lns = append(lns, ln)
	}
	ctl, err := listenControl(d.cfg.ControlPath())
	if err != nil {
		closeAll()
		return err
	}
	httpSrv := &http.Server{Handler: controlHandler(d.parts, d.log), ReadHeaderTimeout: 10 * time.Second}

	var wg sync.WaitGroup
	for _, ln := range lns {
		d.log.Info("socketmap listening", "addr", ln.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				d.log.Error("socketmap listener failed", "addr", ln.Addr().String(), "err", err)
			}
		})
	}
	wg.Go(func() { _ = httpSrv.Serve(ctl) })
	refreshCtx, stopRefresh := context.WithCancel(context.Background())
	wg.Go(func() { d.parts.Engine.Run(refreshCtx, 30*time.Second) })
	d.log.Info("mailtls started", "version", Version(), "config", cfgName(d.cfg), "profiles", len(d.parts.Profiles))

	<-ctx.Done()
	d.log.Info("shutting down: draining in-flight requests")
	stopRefresh()
	sctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.log.Warn("socketmap shutdown", "err", err)
	}
	_ = httpSrv.Shutdown(sctx)
	wg.Wait()
	if d.parts.Backend != nil {
		if err := d.parts.Backend.Close(); err != nil {
			d.log.Error("closing the cache store", "err", err)
			return err
		}
	}
	d.log.Info("stopped")
	return nil
}

// Engine exposes the policy engine (for tests and in-process tools).
func (d *Daemon) Engine() *policy.Engine { return d.parts.Engine }

func listen(l config.Listener) (net.Listener, error) {
	if l.TCP != "" {
		ln, err := net.Listen("tcp", l.TCP)
		if err != nil {
			return nil, fmt.Errorf("socketmap listener: %w", err)
		}
		return ln, nil
	}
	mode, err := l.FileMode()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(l.Unix), 0o755); err != nil {
		return nil, fmt.Errorf("socketmap listener: %w", err)
	}
	ln, err := socketmap.ListenUnix(l.Unix, l.Owner, l.Group, mode)
	if err != nil {
		return nil, fmt.Errorf("socketmap listener: %w", err)
	}
	return ln, nil
}

func cfgName(c *config.Config) string {
	if c.Source == "" {
		return "embedded default"
	}
	return c.Source
}
