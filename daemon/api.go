package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"golang.org/x/net/netutil"

	"github.com/mailtls/mailtls/httpapi"
	"github.com/mailtls/mailtls/readsocket"
)

// startAPI opens the HTTP JSON API listener (api.http) and the Exim readsocket listeners
// (api.readsocket) and serves them; the returned stop shuts them down gracefully.
func (d *Daemon) startAPI() (stop func(context.Context), err error) {
	stopHTTP, err := d.startHTTPAPI()
	if err != nil {
		return nil, err
	}
	stopRS, err := d.startReadsocket()
	if err != nil {
		stopHTTP(context.Background())
		return nil, err
	}
	return func(ctx context.Context) {
		stopHTTP(ctx)
		stopRS(ctx)
	}, nil
}

// startReadsocket serves api.readsocket; off (a no-op stop) when none is configured.
func (d *Daemon) startReadsocket() (stop func(context.Context), err error) {
	stop = func(context.Context) {}
	a := d.cfg.API
	if len(a.Readsocket) == 0 {
		return stop, nil
	}
	srv := &readsocket.Server{Decider: d, Profile: a.Profile, Logger: d.log}
	max := a.MaxConnections
	if max <= 0 {
		max = 1024
	}
	var wg sync.WaitGroup
	for _, l := range a.Readsocket {
		ln, err := listen(l)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			wg.Wait()
			return stop, fmt.Errorf("readsocket: %w", err)
		}
		d.log.Info("readsocket listening", "addr", ln.Addr().String(), "max_connections", max)
		lim := netutil.LimitListener(ln, max)
		wg.Go(func() {
			if err := srv.Serve(lim); err != nil && !errors.Is(err, readsocket.ErrServerClosed) {
				d.log.Error("readsocket listener failed", "addr", ln.Addr().String(), "err", err)
			}
		})
	}
	return func(ctx context.Context) {
		_ = srv.Shutdown(ctx)
		wg.Wait()
	}, nil
}

// startHTTPAPI serves api.http; off (a no-op stop) when it is empty.
func (d *Daemon) startHTTPAPI() (stop func(context.Context), err error) {
	stop = func(context.Context) {}
	a := d.cfg.API
	if a.HTTP == "" {
		return stop, nil
	}
	h := &httpapi.Handler{Decider: d, Profile: a.Profile, Token: a.Token, Logger: d.log}
	ln, err := httpapi.Listen(a.HTTP, a.MaxConnections)
	if err != nil {
		return stop, fmt.Errorf("HTTP API listener: %w", err)
	}
	srv := httpapi.NewServer(h, slog.NewLogLogger(d.log.Handler(), slog.LevelWarn))
	maxConns := a.MaxConnections
	if maxConns <= 0 {
		maxConns = httpapi.DefaultMaxConnections
	}
	d.log.Info("HTTP API listening", "addr", ln.Addr().String(), "token", a.Token != "", "max_connections", maxConns)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			d.log.Error("HTTP API listener failed", "err", err)
		}
	}()
	return func(ctx context.Context) {
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
