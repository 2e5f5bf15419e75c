package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/hosting"
	"github.com/mailtls/mailtls/tlsrpt/receiver"
)

// receiverRole is inbound TLS reporting (package tlsrpt/receiver) inside the daemon: the
// HTTPS endpoint reporters POST to, on a listener of its own or on the policy host's.
type receiverRole struct {
	cfg     config.TLSRPTReceiver
	st      *receiver.Store
	handler http.Handler
	log     *slog.Logger
}

// ReceiverFromConfig opens the received-report store and builds the receiver cfg
// describes (shared by the daemon and `mailtls tlsrpt ingest`); the caller closes the
// store.
func ReceiverFromConfig(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*receiver.Receiver, error) {
	r := cfg.TLSRPTReceiver
	st, err := receiver.Open(cfg.TLSRPTReceivedPath())
	if err != nil {
		return nil, err
	}
	m, err := receiver.NewMetrics(reg)
	if err != nil {
		st.Close()
		return nil, err
	}
	rc := &receiver.Receiver{Store: st, Metrics: m, Log: log,
		Limits: receiver.Limits{MaxCompressed: r.MaxCompressed, MaxDecompressed: r.MaxDecompressed,
			MaxPolicies: r.MaxPolicies, MaxDetails: r.MaxFailureDetails}}
	if r.AlertFailureRate > 0 {
		rc.Alerts = &receiver.Alerter{FailureRate: r.AlertFailureRate, MinSessions: r.AlertMinSessions}
	}
	if ours := cfg.ReceiverDomains(); len(ours) > 0 {
		rc.Ours = func(d string) bool { return slices.Contains(ours, d) }
	}
	return rc, nil
}

// newReceiverRole builds the receiver of cfg.TLSRPTReceiver (nil when off).
func newReceiverRole(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*receiverRole, error) {
	if !cfg.TLSRPTReceiver.Enabled {
		return nil, nil
	}
	rc, err := ReceiverFromConfig(cfg, log, reg)
	if err != nil {
		return nil, err
	}
	if len(cfg.ReceiverDomains()) == 0 {
		log.Warn("tlsrpt_receiver: no domains configured and hosting is off: reports about any domain are accepted")
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.TLSRPTReceiver.URLPath, receiver.NewHandler(rc, receiver.RateLimit{
		PerClient: cfg.TLSRPTReceiver.RateLimit, Total: cfg.TLSRPTReceiver.RateLimitTotal, Window: time.Hour}))
	return &receiverRole{cfg: cfg.TLSRPTReceiver, st: rc.Store, handler: mux, log: log}, nil
}

// mountOn is the handler the policy host serves when the receiver shares its listener:
// the receiver's path goes to the receiver, everything else to the policy host.
func (r *receiverRole) mountOn(host http.Handler) http.Handler {
	if r == nil || r.cfg.Listen != "" {
		return host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == r.cfg.URLPath {
			r.handler.ServeHTTP(w, req)
			return
		}
		host.ServeHTTP(w, req)
	})
}

// start opens the receiver's own HTTPS listener when it has one; the returned function
// stops it and closes the store.
func (r *receiverRole) start(hostingOn bool) (stop func(context.Context), err error) {
	pctx, stopPrune := context.WithCancel(context.Background())
	var pruning sync.WaitGroup
	if keep := r.cfg.KeepFor.D(); keep > 0 {
		pruning.Go(func() { r.pruneLoop(pctx, keep) })
	}
	closeStore := func(context.Context) {
		stopPrune()
		pruning.Wait()
		if err := r.st.Close(); err != nil {
			r.log.Error("closing the received-report store", "err", err)
		}
	}
	if r.cfg.Listen == "" {
		if hostingOn {
			r.log.Info("tlsrpt_receiver: reports accepted on the policy host's listener", "path", r.cfg.URLPath)
		} else {
			r.log.Info("tlsrpt_receiver: no HTTPS listener (listen empty, hosting off): mail ingestion only")
		}
		return closeStore, nil
	}
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		closeStore(context.Background())
		return nil, fmt.Errorf("tlsrpt_receiver: %w", err)
	}
	ln, err := net.Listen("tcp", r.cfg.Listen)
	if err != nil {
		closeStore(context.Background())
		return nil, fmt.Errorf("tlsrpt_receiver listener: %w", err)
	}
	srv := hosting.NewServer(r.handler, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, r.log)
	var wg sync.WaitGroup
	r.log.Info("tlsrpt_receiver: HTTPS listening", "addr", ln.Addr().String(), "path", r.cfg.URLPath)
	wg.Go(func() { serveLogged(r.log, "tlsrpt_receiver", srv.ServeTLS(ln, "", "")) })
	return func(ctx context.Context) {
		_ = srv.Shutdown(ctx)
		wg.Wait()
		closeStore(ctx)
	}, nil
}

// pruneLoop deletes received reports older than keep at start and then daily.
func (r *receiverRole) pruneLoop(ctx context.Context, keep time.Duration) {
	for {
		n, err := r.st.Prune(ctx, time.Now().Add(-keep))
		if err != nil && ctx.Err() == nil {
			r.log.Error("tlsrpt_receiver: pruning old reports", "err", err)
		} else if n > 0 {
			r.log.Info("tlsrpt_receiver: pruned old reports", "reports", n, "keep_for", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}
