package daemon

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mailtls/mailtls/httpapi"
)

// apiLimits are the HTTP API listener's: MTAs keep a few connections alive per delivery
// process; a decision may take up to a profile's answer deadline (25 s by default), so the
// write timeout leaves room beyond it.
func apiLimits(maxConns int) httpLimits {
	if maxConns <= 0 {
		maxConns = 1024
	}
	return httpLimits{MaxConns: maxConns, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 60 * time.Second}
}

// startAPI opens the HTTP JSON API listener (api.http) and serves it; the returned stop
// shuts it down gracefully. Off (a no-op stop) when api.http is empty.
func (d *Daemon) startAPI() (stop func(context.Context), err error) {
	stop = func(context.Context) {}
	a := d.cfg.API
	if a.HTTP == "" {
		return stop, nil
	}
	h := &httpapi.Handler{Decider: d, Profile: a.Profile, Token: a.Token, Logger: d.log}
	lim := apiLimits(a.MaxConnections)
	ln, srv, err := listenHTTP(a.HTTP, h, lim, d.log)
	if err != nil {
		return stop, fmt.Errorf("HTTP API listener: %w", err)
	}
	srv.MaxHeaderBytes = 16 << 10 // a request is a path and a token
	d.log.Info("HTTP API listening", "addr", ln.Addr().String(), "token", a.Token != "", "max_connections", lim.MaxConns)
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
