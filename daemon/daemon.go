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
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/gcpace"
	"github.com/mailtls/mailtls/policy"
	"github.com/mailtls/mailtls/socketmap"
)

// requestTimeout bounds a control-socket call (mailtls query, cache). A socketmap answer
// is bounded by its profile's answer_deadline (policy.DefaultAnswerDeadline unless set,
// well inside Postfix's 100 s), which the engine applies, so the socketmap server adds no
// deadline of its own.
const requestTimeout = 95 * time.Second

// Daemon is a running mailtls.
type Daemon struct {
	cfg      *config.Config // listeners and store: fixed for the process's life
	log      *slog.Logger
	parts    *Parts
	metrics  *metrics
	ready    atomic.Bool
	profiles atomic.Pointer[map[string]*policy.Profile] // replaced by Reload
	audit    atomic.Pointer[auditLog]                   // replaced by Reload
	// validation follows the resolver's DNSSEC validation check (watchValidation).
	validation validationState
	stateLock  *os.File      // flock on the state directory, held until Run returns (nil: none)
	hosting    *hostingRole  // the MTA-STS policy host; nil when off
	tlsrpt     *tlsrptRole   // outbound TLS reporting; nil when off
	receiver   *receiverRole // inbound TLS reporting (daemon/tlsrptreceiver.go); nil when off
}

// New builds a daemon from cfg; nothing listens until Run.
//
// New takes an exclusive lock on the state directory and fails with ErrStateDirInUse when
// another daemon holds it, or with ErrControlInUse when a daemon answers on the control
// socket: a second serve must not take over, or remove, a live daemon's store or socket.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	lock, err := lockStateDir(cfg.StateDirPath())
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok && lock != nil {
			lock.Close()
		}
	}()
	if err := probeControl(cfg.ControlPath()); err != nil {
		return nil, err
	}
	m := newMetrics()
	parts, err := build(cfg, log, storeBestEffort, m)
	if err != nil {
		return nil, err
	}
	var (
		a *auditLog
		d *Daemon
	)
	defer func() {
		if ok {
			return
		}
		// A daemon that could not be built releases what it opened, so a caller that
		// retries (or a test) keeps no audit file, cache store or report store behind.
		a.close(nil)
		if d != nil && d.tlsrpt != nil {
			d.tlsrpt.st.Close()
		}
		if parts.Backend != nil {
			parts.Backend.Close()
		}
	}()
	if a, err = openAudit(cfg.Audit, auditLost(m, log)); err != nil {
		return nil, err
	}
	if st, ok := parts.Backend.(*sqlitestore.Store); ok {
		m.watchStore(st)
	}
	m.watchHotStore(parts.Engine)
	d = &Daemon{cfg: cfg, log: log, parts: parts, metrics: m, stateLock: lock}
	m.storeHealthy.Set(map[bool]float64{true: 1, false: 0}[d.storeHealth() == nil])
	d.validation.set(parts.DANEError == nil, errString(parts.DANEError), time.Now())
	if parts.DANEError != nil && !dnsclient.NotValidating(parts.DANEError) {
		// The start-up check could not be made: retry soon (back-off), not in a minute.
		d.validation.inconclusive, d.validation.lastErr, d.validation.lastCheck = 1, parts.DANEError.Error(), time.Now()
	}
	m.queryCount.setProfiles(parts.Profiles)
	d.profiles.Store(&parts.Profiles)
	d.audit.Store(a)
	if d.hosting, err = newHostingRole(cfg, log, m, d.audit.Load); err != nil {
		return nil, err
	}
	if d.tlsrpt, err = newTLSRPTRole(cfg, log, m.reg, parts.Resolver, parts.stsObserver); err != nil {
		return nil, err
	}
	if d.receiver, err = newReceiverRole(cfg, log, m.reg); err != nil {
		return nil, err
	}
	if d.hosting != nil && d.receiver != nil {
		d.hosting.wrap = d.receiver.mountOn
	}
	ok = true
	return d, nil
}

// Lookup answers one socketmap request: the map name selects the profile
// (conformance.md §1), the key is the next-hop.
func (d *Daemon) Lookup(ctx context.Context, name, key string) string {
	// The decision stays on this goroutine's stack: a cached answer allocates nothing.
	var dec policy.Decision
	reply, err := d.Decide(ctx, name, key, &dec)
	if err != nil {
		return "PERM unknown map name " + fmt.Sprintf("%q", name) + ": not a configured profile"
	}
	return reply
}

// Run opens every listener, loads the persistent store into the hot store in the
// background and serves until ctx ends; then it stops accepting, lets in-flight requests
// finish, flushes the store and returns. While the load runs, a domain not yet in the hot
// store is read from the persistent store by its lookup, so known domains are answered
// from the cache from the first request (a store of a million domains takes seconds to
// load).
func (d *Daemon) Run(ctx context.Context) error {
	defer func() {
		if d.stateLock != nil {
			d.stateLock.Close() // releases the flock, after the store is closed
		}
	}()
	loadCtx, stopLoad := context.WithCancel(ctx)
	loaded := make(chan struct{})
	// gcKick tells the collector's pacer that the load is done: the live heap has just
	// grown by the whole hot store.
	gcKick := make(chan struct{}, 1)
	waitLoad := func() {
		stopLoad()
		<-loaded
	}
	defer waitLoad() // also on early returns: nothing may use the store after Run
	go func() {
		defer close(loaded)
		start := time.Now()
		n, err := d.parts.Engine.Load(loadCtx)
		switch {
		case err != nil && loadCtx.Err() != nil: // shutting down
		case err != nil:
			d.log.Warn("loading the cache store failed; the hot store fills as domains are looked up", "err", err)
		default: // with no store (memory only) there was nothing to load
			if d.parts.Backend != nil {
				// Decoding the store made garbage of about the size of what it loaded; the
				// collector would keep those pages until the heap grew into them again.
				// Hand them back now, once: the hot store is what stays.
				debug.FreeOSMemory()
				select {
				case gcKick <- struct{}{}:
				default:
				}
				d.log.Info("cache loaded", "domains", n, "store", d.cfg.CachePath(), "elapsed", time.Since(start).Round(time.Millisecond))
			}
			d.metrics.cacheLoaded.Set(1)
		}
	}()

	srv := &socketmap.Server{Handler: d, RequestTimeout: -1, Logger: d.log,
		MaxConns: d.cfg.Listen.MaxConnections, IdleTimeout: d.cfg.Listen.IdleTimeout.D(),
		PartialTimeout: d.cfg.Listen.PartialRequestTimeout.D()}
	passed, err := inheritSockets()
	if err != nil {
		return err
	}
	if passed.dgram != nil && d.tlsrpt == nil {
		d.log.Warn("systemd passed a datagram socket but tlsrpt is not enabled; closing it", "socket", passed.dgram.LocalAddr().String())
		passed.dgram.Close()
		passed.dgram = nil
	}
	lns, activated, err := socketmapListeners(passed.stream, d.cfg.Listen.Socketmap)
	if err != nil {
		if passed.dgram != nil {
			passed.dgram.Close()
		}
		return err
	}
	if activated {
		d.log.Info("socketmap sockets passed by systemd (socket activation); listen.socketmap of the configuration is not bound", "sockets", len(lns))
	}
	closeAll := func() { // a second Close of the datagram socket, once the collector has it, is harmless
		for _, ln := range lns {
			ln.Close()
		}
		if passed.dgram != nil {
			passed.dgram.Close()
		}
	}
	// The control socket is for the CLI; without it (e.g. a read-only state directory)
	// mail is still answered.
	ctl, err := listenControl(d.cfg.ControlPath())
	if err != nil {
		d.log.Error("control socket unavailable: mailtls query/cache will work in-process only", "err", err)
	}
	httpSrv := &http.Server{Handler: controlHandler(d, d.log), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
	var metricsSrv *http.Server
	if d.cfg.Metrics.Listen != "" {
		lim := metricsLimits()
		mln, srv, err := listenHTTP(d.cfg.Metrics.Listen, d.metrics.handler(&d.ready, d.storeHealth, d.daneReadiness), lim, d.log)
		if err != nil {
			closeAll()
			if ctl != nil {
				ctl.Close()
			}
			return fmt.Errorf("metrics listener: %w", err)
		}
		metricsSrv = srv
		d.log.Info("metrics listening", "addr", mln.Addr().String(), "max_connections", lim.MaxConns)
		go func() { _ = metricsSrv.Serve(mln) }()
	}

	stopHosting := func(context.Context) {}
	if d.hosting != nil {
		if stopHosting, err = d.hosting.start(d.log); err != nil {
			closeAll()
			if ctl != nil {
				ctl.Close()
			}
			if metricsSrv != nil {
				metricsSrv.Close()
			}
			return err
		}
	}

	stopTLSRPT := func() {}
	if d.tlsrpt != nil {
		if stopTLSRPT, err = d.tlsrpt.start(passed.dgram); err != nil {
			closeAll()
			if ctl != nil {
				ctl.Close()
			}
			if metricsSrv != nil {
				metricsSrv.Close()
			}
			stopHosting(context.Background())
			return err
		}
	}

	stopReceiver := func(context.Context) {}
	if d.receiver != nil {
		if stopReceiver, err = d.receiver.start(d.hosting != nil); err != nil {
			closeAll()
			if ctl != nil {
				ctl.Close()
			}
			if metricsSrv != nil {
				metricsSrv.Close()
			}
			stopHosting(context.Background())
			stopTLSRPT()
			return err
		}
	}

	stopAPI, err := d.startAPI()
	if err != nil {
		closeAll()
		if ctl != nil {
			ctl.Close()
		}
		if metricsSrv != nil {
			metricsSrv.Close()
		}
		stopHosting(context.Background())
		stopTLSRPT()
		stopReceiver(context.Background())
		return err
	}

	d.checkFileLimit(len(lns))

	var wg sync.WaitGroup
	for _, ln := range lns {
		d.log.Info("socketmap listening", "addr", ln.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				d.log.Error("socketmap listener failed", "addr", ln.Addr().String(), "err", err)
			}
		})
	}
	if ctl != nil {
		wg.Go(func() { _ = httpSrv.Serve(ctl) })
	}
	refreshCtx, stopRefresh := context.WithCancel(context.Background())
	wg.Go(func() { d.parts.Engine.Run(refreshCtx, 30*time.Second) })
	wg.Go(func() { d.watchValidation(refreshCtx, defaultValidationTimers()) })
	if headroom, why := gcHeadroom(d.cfg, os.LookupEnv); headroom > 0 {
		d.log.Info("pacing the Go collector by the cache's headroom", "gc_headroom", headroom)
		wg.Go(func() { gcpace.New(headroom).Run(refreshCtx, gcPaceInterval, gcKick) })
	} else {
		d.log.Info("the Go collector keeps its own pacing", "reason", why)
	}
	d.ready.Store(true)
	d.log.Info("mailtls started", "version", Version(), "config", cfgName(d.cfg), "profiles", len(d.parts.Profiles))

	<-ctx.Done()
	d.log.Info("shutting down: draining in-flight requests")
	stopRefresh()
	sctx, cancel := context.WithTimeout(context.Background(), policy.DefaultAnswerDeadline+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.log.Warn("socketmap shutdown", "err", err)
	}
	_ = httpSrv.Shutdown(sctx)
	stopAPI(sctx)
	stopHosting(sctx)
	stopReceiver(sctx)
	stopTLSRPT()
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(sctx)
	}
	wg.Wait()
	waitLoad()
	d.audit.Load().close(nil)
	if d.parts.Backend != nil {
		if err := d.parts.Backend.Close(); err != nil {
			d.log.Error("closing the cache store", "err", err)
			return err
		}
	}
	d.log.Info("stopped")
	return nil
}

// daneReadiness says how the DANE stage stands, for /readyz; ok is false while it is off
// and a profile requires DANE (that profile answers TEMP for every domain).
func (d *Daemon) daneReadiness() (ok bool, text string) {
	on, text := d.validation.report()
	if on {
		return true, text
	}
	for name, p := range *d.profiles.Load() {
		if p.DANERequired {
			return false, text + "dane: profile " + name + " requires DANE: it answers TEMP\n"
		}
	}
	return true, text
}

// storeHealth is the persistent store's last write error (nil when healthy or absent).
func (d *Daemon) storeHealth() error {
	if d.parts.StoreError != nil {
		return d.parts.StoreError
	}
	if d.parts.StoreReadOnly != nil {
		return d.parts.StoreReadOnly
	}
	if d.parts.Backend == nil {
		return nil
	}
	return d.parts.Backend.Health()
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
