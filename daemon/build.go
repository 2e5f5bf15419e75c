package daemon

import (
	"cmp"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/mailtls/mailtls/asn"
	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/buildinfo"
	"github.com/mailtls/mailtls/internal/netguard"
	"github.com/mailtls/mailtls/mtasts"
	"github.com/mailtls/mailtls/policy"
	"github.com/mailtls/mailtls/socketmap"
)

// Parts are the engine and what it was built from, for the daemon and for the CLI's
// in-process queries.
type Parts struct {
	Engine   *policy.Engine
	Resolver *dnsclient.Client
	Backend  cache.Backend // nil when the store is off
	Profiles map[string]*policy.Profile
	// StoreError is why the persistent store could not be opened (the daemon then serves
	// from memory only), or nil.
	StoreError error
	// StoreReadOnly is why the store was opened read-only (the state directory cannot be
	// written: the daemon serves what it holds, and persists nothing new), or nil.
	StoreReadOnly error
	// DANEError is why the DANE stage is off (the resolver failed the validation check),
	// or nil when it is on.
	DANEError error
	// DANE is the evaluator the stage uses when the resolver validates.
	DANE *dane.Evaluator

	fetcher *swapFetcher // the engine's MTA-STS fetcher, replaced by Reload
	guard   *swapGuard   // the SSRF guard on every fetch, replaced by Reload
	// stsObserver hands MTA-STS fetch failures to TLS reporting (daemon/tlsrpt.go).
	stsObserver *stsObserverSlot
}

// newFetcher builds the MTA-STS policy fetcher of the mta_sts settings, dialing through dc.
func newFetcher(m config.MTASTS, dc *dnsclient.Client) (*mtasts.Fetcher, error) {
	roots, err := loadRoots(m.CAFile)
	if err != nil {
		return nil, err
	}
	return mtasts.NewFetcher(mtasts.FetcherConfig{
		Dial:      dc.DialContext,
		RootCAs:   roots,
		Timeout:   m.FetchTimeout.D(),
		MaxBody:   m.MaxBody,
		UserAgent: "mailtls/" + Version(),
	}), nil
}

// Build creates the engine and its dependencies from cfg. With persist false the
// persistent store is not opened (the CLI's one-off queries must not compete with a
// running daemon for it); with persist true a store that cannot be opened is an error, and
// the resolver's DNSSEC check is not run (the cache commands resolve nothing).
func Build(cfg *config.Config, log *slog.Logger, persist bool) (*Parts, error) {
	mode := storeOff
	if persist {
		mode = storeRequired
	}
	return build(cfg, log, mode, nil)
}

// storeMode says whether build opens the persistent store and what a failure means.
type storeMode int

const (
	storeOff        storeMode = iota
	storeRequired             // failure is an error (CLI working on the store file)
	storeBestEffort           // failure is logged; the daemon serves from memory (StoreError)
)

// build is Build with the daemon's metrics hooked into the resolver and the engine.
func build(cfg *config.Config, log *slog.Logger, mode storeMode, m *metrics) (*Parts, error) {
	servers := cfg.Resolver.Servers
	if len(servers) == 0 {
		var err error
		if servers, err = dnsclient.ServersFromResolvConf(cfg.Resolver.ResolvConf); err != nil {
			return nil, fmt.Errorf("resolver: no servers configured and %s unusable: %w", cfg.Resolver.ResolvConf, err)
		}
	}
	guard := &swapGuard{}
	guard.cur.Store(&netguard.Guard{Allow: cfg.MTASTS.AllowPrefixes()})
	dcfg := dnsclient.Config{Servers: servers, Timeout: cfg.Resolver.Timeout.D(), DialControl: guard.Control}
	var onFetch func(string)
	var onRefresh func(int)
	if m != nil {
		dcfg.Observe = m.observeDNS
		onFetch = func(o string) { m.fetches.WithLabelValues(o).Inc() }
		onRefresh = func(n int) { m.refreshed.Set(float64(n)) }
	}
	dc, err := dnsclient.New(dcfg)
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	f, err := newFetcher(cfg.MTASTS, dc)
	if err != nil {
		return nil, err
	}
	fetcher := &swapFetcher{}
	fetcher.cur.Store(f)
	p := &Parts{Resolver: dc, Profiles: policy.ProfilesFromConfig(cfg), fetcher: fetcher, guard: guard, stsObserver: &stsObserverSlot{}}
	if mode != storeOff && cfg.Cache.Store == "sqlite" {
		st, ro, err := openStore(cfg, log, m)
		switch {
		case err == nil:
			p.Backend, p.StoreReadOnly = st, ro
		case mode == storeBestEffort:
			// A read-only or full state directory must not stop mail: serve from memory,
			// and say so in the log and on /healthz.
			p.StoreError = err
			log.Error("cache store unavailable: serving from memory only, nothing survives a restart", "err", err)
		default:
			return nil, err
		}
	}
	overrides, err := policy.OverridesFromConfig(cfg.Overrides)
	if err != nil {
		return nil, err
	}
	asnRules, err := loadASN(cfg)
	if err != nil {
		return nil, err
	}
	p.DANE = &dane.Evaluator{Resolver: dc, Port: 25, MaxHosts: 10}
	var daneEval policy.DANEEvaluator
	if mode == storeRequired {
		// The cache commands only read and edit stored state and resolve nothing: no
		// resolver check, so no DNS traffic and no DANE error line from them.
		daneEval = p.DANE
	} else if p.DANEError = checkValidation(dc, cfg); p.DANEError != nil {
		for name, prof := range p.Profiles {
			if prof.DANERequired {
				return nil, fmt.Errorf("profile %s requires DANE, but %w", name, p.DANEError)
			}
		}
		log.Error("DANE DISABLED: the resolver failed the DNSSEC validation check; domains known to use DANE answer TEMP, others fall back to MTA-STS",
			"servers", servers, "err", p.DANEError, "inconclusive", !dnsclient.NotValidating(p.DANEError))
	} else {
		daneEval = p.DANE
	}
	if m != nil {
		m.validating.Set(map[bool]float64{true: 1, false: 0}[p.DANEError == nil])
	}
	p.Engine, err = policy.New(policy.Options{
		Resolver:      dc,
		Fetcher:       fetcher,
		DANE:          daneEval,
		DANEOffReason: errString(p.DANEError),
		Overrides:     overrides,
		ASN:           asnRules,
		OnFetch:       onFetch,
		OnRefresh:     onRefresh,
		// A socketmap lookup about to wait writes the replies pipelined before it.
		BeforeWait:      socketmap.Flush,
		STSObserver:     p.stsObserver,
		Backend:         p.Backend,
		Logger:          log,
		MaxEntries:      cfg.Cache.MaxEntries,
		MaxBytes:        cmp.Or(cfg.Cache.MaxBytes, -1), // config 0: no budget
		FetchTimeout:    cfg.MTASTS.FetchTimeout.D(),
		FailureRetry:    cfg.MTASTS.FailureRetry.D(),
		RefreshInterval: cfg.MTASTS.RefreshInterval.D(),
		TXTTTLMin:       cfg.MTASTS.TXTTTLMin.D(),
		NegativeTTLMin:  cfg.Cache.NegativeTTLMin.D(),
		NegativeTTLMax:  cfg.Cache.NegativeTTLMax.D(),
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkValidation asks the resolver for a signed name (must carry AD=1) and a broken one
// (must fail): trusting AD from a resolver that does not validate would let a forged DNS
// answer switch DANE on or off (RFC 7672 §2.1).
func checkValidation(dc *dnsclient.Client, cfg *config.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.Resolver.Timeout.D()+time.Second)
	defer cancel()
	if err := dc.CheckValidation(ctx, cfg.DANE.CheckSigned, cfg.DANE.CheckBogus); err != nil {
		return fmt.Errorf("resolver validation check: %w", err)
	}
	return nil
}

// openStore opens the persistent store. When the state directory or the file cannot be
// written but the file exists, it is opened read-only (ro says why) and served from:
// discarding what it knows would cost every domain a new lookup, and the protection of
// the policies it holds until they are fetched again.
func openStore(cfg *config.Config, log *slog.Logger, m *metrics) (st *sqlitestore.Store, ro, err error) {
	path := cfg.CachePath()
	if err := os.MkdirAll(cfg.StateDirPath(), 0o700); err != nil {
		return nil, nil, fmt.Errorf("state directory: %w", err)
	}
	opts := sqlitestore.Options{Logger: log}
	if m != nil {
		opts.OnHealth = m.storeHealthChanged()
	}
	st, err = sqlitestore.Open(path, opts)
	if err == nil {
		return st, nil, nil
	}
	if !sqlitestore.IsReadOnlyMedium(err) {
		return nil, nil, fmt.Errorf("cache store %s: %w", path, err)
	}
	st, rerr := sqlitestore.OpenReadOnly(path, opts)
	if rerr != nil {
		return nil, nil, fmt.Errorf("cache store %s: %w (read-only: %w)", path, err, rerr)
	}
	ro = fmt.Errorf("cache store %s opened read-only, nothing new is persisted: %w", path, err)
	log.Error("state directory not writable: serving from the existing store, read-only", "err", ro)
	return st, ro, nil
}

// loadASN opens the IP-to-ASN database and builds the ASN rules; nil when none are set.
func loadASN(cfg *config.Config) (*policy.ASNRules, error) {
	if cfg.ASN.Database == "" || len(cfg.ASN.Rules) == 0 {
		return nil, nil
	}
	db, err := asn.Open(cfg.ASN.Database)
	if err != nil {
		return nil, err
	}
	return policy.ASNRulesFromConfig(db, cfg.ASN.Rules), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// loadRoots reads a PEM bundle that replaces the system roots; "" keeps the system roots.
func loadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("mta_sts.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("mta_sts.ca_file %s: no PEM certificates found", file)
	}
	return pool, nil
}

// Version is the release version stamped into the binary, else its module version, else
// "devel" (internal/buildinfo).
func Version() string { return buildinfo.Get().Version }

// NewLogger builds the daemon's logger from the log section.
func NewLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
