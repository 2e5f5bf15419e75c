package daemon

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/hosting"
	"github.com/mailtls/mailtls/hosting/certs"
	"github.com/mailtls/mailtls/hosting/mirror"
	"github.com/mailtls/mailtls/internal/netguard"
	"github.com/mailtls/mailtls/mtasts"
)

// certCheckInterval is how often the policy host makes sure every ACME name has a
// current certificate (autocert renews on its own timers; this also catches names added
// by a reload and keeps the expiry metric fresh).
const certCheckInterval = 6 * time.Hour

// hostingRole is the MTA-STS policy host (package hosting) inside the daemon.
type hostingRole struct {
	cfg   config.Hosting // listeners and ACME settings: fixed for the process's life
	host  *hosting.Host
	certs *certs.Manager
	log   *slog.Logger
	// obtain wakes obtainLoop after a reload, so names added by it get their
	// certificates at once rather than at a sender's first handshake.
	obtain chan struct{}
	// wrap, when set, puts other handlers (the TLS report receiver) on the listener.
	wrap func(http.Handler) http.Handler
}

// HostingTools are what serving, `mailtls hosting records` and `hosting check` share:
// the configured resolver, a policy fetcher with a sender's rules (RFC 8461 §3.3) and a
// policy builder over both.
type HostingTools struct {
	Resolver *dnsclient.Client
	Fetcher  *mtasts.Fetcher
	Roots    *x509.CertPool // mta_sts.ca_file, nil for the system roots
	Builder  *hosting.Builder
}

// NewHostingTools builds the resolver, fetcher and builder from cfg as the resolver role
// would (same servers, SSRF guard, roots and limits).
func NewHostingTools(cfg *config.Config, onUpstreamFailure func(mtasts.ResultType)) (*HostingTools, error) {
	servers := cfg.Resolver.Servers
	if len(servers) == 0 {
		var err error
		if servers, err = dnsclient.ServersFromResolvConf(cfg.Resolver.ResolvConf); err != nil {
			return nil, fmt.Errorf("resolver: no servers configured and %s unusable: %w", cfg.Resolver.ResolvConf, err)
		}
	}
	guard := &netguard.Guard{Allow: cfg.MTASTS.AllowPrefixes()}
	dc, err := dnsclient.New(dnsclient.Config{Servers: servers, Timeout: cfg.Resolver.Timeout.D(), DialControl: guard.Control})
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	roots, err := loadRoots(cfg.MTASTS.CAFile)
	if err != nil {
		return nil, err
	}
	f, err := newFetcher(cfg.MTASTS, dc)
	if err != nil {
		return nil, err
	}
	return &HostingTools{Resolver: dc, Fetcher: f, Roots: roots,
		Builder: &hosting.Builder{Resolver: dc, Mirror: &mirror.Fetcher{STS: f, OnFailure: onUpstreamFailure}}}, nil
}

// newHostingRole builds the policy host when cfg hosts any domain (nil otherwise).
func newHostingRole(cfg *config.Config, log *slog.Logger, m *metrics, audit func() *auditLog) (*hostingRole, error) {
	if !cfg.Hosting.Enabled() {
		return nil, nil
	}
	hm := hosting.NewMetrics(m.reg)
	tools, err := NewHostingTools(cfg, hm.UpstreamFailure)
	if err != nil {
		return nil, fmt.Errorf("hosting: %w", err)
	}
	state, err := hosting.OpenState(cfg.StateDirPath())
	if err != nil {
		return nil, err
	}
	r := &hostingRole{cfg: cfg.Hosting, log: log, obtain: make(chan struct{}, 1)}
	r.host = hosting.New(hosting.Options{Builder: tools.Builder, State: state, Log: log, Metrics: hm,
		OnChange: func(c hosting.Change) {
			hm.PolicyChanged()
			if err := audit().recordHosting(c); err != nil {
				m.auditErrors.Inc()
			}
		}})
	acmeOpts, err := acmeOptions(cfg)
	if err != nil {
		return nil, err
	}
	acmeOpts.Hosted, acmeOpts.Log, acmeOpts.Metrics = r.host.Hosted, log, certs.NewMetrics(m.reg)
	r.certs = certs.New(acmeOpts)
	if err := r.apply(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// acmeOptions turns hosting.acme into certificate manager options.
func acmeOptions(cfg *config.Config) (certs.Options, error) {
	a := cfg.Hosting.ACME
	o := certs.Options{CacheDir: filepath.Join(cfg.StateDirPath(), "acme"), Directory: a.Directory,
		Contact: a.Contact, RenewBefore: a.RenewBefore.D()}
	if a.EAB.KID != "" {
		key, err := a.EAB.MACKey()
		if err != nil {
			return o, fmt.Errorf("hosting.acme.eab.hmac_key: %w", err)
		}
		o.EAB = &acme.ExternalAccountBinding{KID: a.EAB.KID, Key: key}
	}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return o, fmt.Errorf("hosting.acme.ca_file: %w", err)
		}
		o.DirectoryRoots = x509.NewCertPool()
		if !o.DirectoryRoots.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("hosting.acme.ca_file %s: no PEM certificates found", a.CAFile)
		}
	}
	return o, nil
}

// apply installs cfg's domains and certificate files (start and SIGHUP). Certificate
// files are checked first: with a broken one nothing changes.
func (r *hostingRole) apply(cfg *config.Config) error {
	specs := hosting.SpecsFromConfig(&cfg.Hosting)
	files := map[string]certs.Files{}
	for _, s := range specs {
		if s.CertFile != "" {
			files[s.Name()] = certs.Files{Cert: s.CertFile, Key: s.KeyFile}
		}
	}
	if err := r.certs.SetStatic(files, time.Now()); err != nil {
		return fmt.Errorf("hosting: %w", err)
	}
	r.host.Update(specs)
	return nil
}

// reload applies a new configuration's domains and certificate files; listener and
// ACME account changes need a restart.
func (r *hostingRole) reload(cfg *config.Config, log *slog.Logger) error {
	if r == nil {
		if cfg.Hosting.Enabled() {
			log.Warn("hosting: the policy host was off at start; hosting.domains takes effect at the next restart")
		}
		return nil
	}
	if err := r.apply(cfg); err != nil {
		return err
	}
	select {
	case r.obtain <- struct{}{}:
	default: // a pass is already due
	}
	if cfg.Hosting.Listen != r.cfg.Listen || cfg.Hosting.HTTPListen != r.cfg.HTTPListen || cfg.Hosting.ACME != r.cfg.ACME ||
		cfg.Hosting.MaxConnections != r.cfg.MaxConnections {
		r.log.Warn("hosting: changes to listen, http_listen, max_connections or acme take effect at the next restart")
	}
	return nil
}

// start opens the policy host's listeners and background work; the returned function
// stops them (graceful within ctx).
func (r *hostingRole) start(log *slog.Logger) (stop func(context.Context), err error) {
	ln, err := net.Listen("tcp", r.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("hosting listener: %w", err)
	}
	var handler http.Handler = r.host
	if r.wrap != nil {
		handler = r.wrap(handler)
	}
	srv := hosting.NewServer(handler, hosting.TLSConfig(r.certs.GetCertificate), log)
	var httpSrv *http.Server
	var hln net.Listener
	if r.cfg.HTTPListen != "" && r.certs.ACME() {
		if hln, err = net.Listen("tcp", r.cfg.HTTPListen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("hosting HTTP-01 listener: %w", err)
		}
		httpSrv = hosting.NewServer(r.certs.HTTPHandler(), nil, log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	r.host.Refresh(ctx) // MX-derived and mirrored policies before the first request
	log.Info("hosting: MTA-STS policy host listening", "addr", ln.Addr().String(), "domains", len(r.host.Specs()))
	wg.Go(func() {
		serveLogged(log, "hosting", srv.ServeTLS(hosting.LimitListener(ln, r.cfg.MaxConnections), "", ""))
	})
	if httpSrv != nil {
		log.Info("hosting: ACME HTTP-01 listening", "addr", hln.Addr().String())
		wg.Go(func() {
			serveLogged(log, "hosting HTTP-01", httpSrv.Serve(hosting.LimitListener(hln, r.cfg.MaxConnections)))
		})
	}
	wg.Go(func() { r.host.Run(ctx, time.Second) })
	if r.certs.ACME() {
		wg.Go(func() { r.obtainLoop(ctx) })
	}
	return func(sctx context.Context) {
		cancel()
		_ = srv.Shutdown(sctx)
		if httpSrv != nil {
			_ = httpSrv.Shutdown(sctx)
		}
		wg.Wait()
	}, nil
}

// obtainLoop gets certificates for ACME names at start, after each reload and every
// certCheckInterval.
func (r *hostingRole) obtainLoop(ctx context.Context) {
	for {
		var names []string
		for _, s := range r.host.Specs() {
			if s.CertFile == "" {
				names = append(names, s.Name())
			}
		}
		slices.Sort(names)
		if err := r.certs.Obtain(ctx, names); err != nil && ctx.Err() == nil {
			r.log.Error("hosting: some certificates could not be obtained; retrying later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.obtain:
		case <-time.After(certCheckInterval):
		}
	}
}

func serveLogged(log *slog.Logger, what string, err error) {
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error(what+" listener failed", "err", err)
	}
}

// hostingAuditLine is the audit record of a served policy id change.
type hostingAuditLine struct {
	Event string `json:"event"`
	hosting.Change
}

// recordHosting writes one audit line for a change of what a hosted domain serves.
func (a *auditLog) recordHosting(c hosting.Change) error {
	if a == nil {
		return nil
	}
	c.Time = c.Time.UTC()
	b, err := json.Marshal(hostingAuditLine{Event: "hosting-policy", Change: c})
	if err != nil {
		return err
	}
	if err := a.w.add(append(b, '\n')); err != nil {
		if next := a.next.Load(); err == errAuditClosed && next != nil {
			return next.recordHosting(c)
		}
		return err
	}
	a.w.flush() // a change is rare: written at once, with the answers' lines before it
	return nil
}
