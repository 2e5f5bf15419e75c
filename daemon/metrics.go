package daemon

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/policy"
)

// metrics are the daemon's Prometheus series, on a registry of its own (no global state).
type metrics struct {
	reg        *prometheus.Registry
	queries    *prometheus.CounterVec
	queryCount *queryCounters // queries' handles, per configured profile
	cache      *prometheus.CounterVec
	cacheHit   prometheus.Counter // cache's two series, looked up once rather than per query
	cacheMiss  prometheus.Counter
	fetches    *prometheus.CounterVec
	dns        *prometheus.HistogramVec
	refreshed  prometheus.Gauge
	validating prometheus.Gauge
	// validationChecks counts the resolver's validation checks by result; daneChanges
	// the DANE stage's switches by the state switched to.
	validationChecks *prometheus.CounterVec
	daneChanges      *prometheus.CounterVec
	auditErrors      prometheus.Counter
	storeHealthy     prometheus.Gauge
	cacheLoaded      prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_queries_total", Help: "Answered policy queries by profile, answer kind and deciding stage.",
		}, []string{"profile", "answer", "source"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_cache_lookups_total", Help: "Policy queries answered from the hot store (hit) or after network work (miss).",
		}, []string{"result"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_sts_fetches_total", Help: "MTA-STS policy fetches by outcome: success or the RFC 8460 result type.",
		}, []string{"outcome"}),
		dns: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mailtls_dns_query_duration_seconds", Help: "DNS questions to the configured resolvers, by type and outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"type", "outcome"}),
		refreshed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailtls_refresh_queue_depth", Help: "Domains the last background refresh pass had due.",
		}),
		validating: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailtls_resolver_validating", Help: "1 when the resolver passed the DNSSEC validation check (DANE on), else 0.",
		}),
		validationChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_resolver_validation_checks_total", Help: "DNSSEC validation checks of the resolver by result: validating, not_validating (proof, switches DANE off) or inconclusive (timeouts, network errors: the last verdict stands).",
		}, []string{"result"}),
		daneChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_dane_state_changes_total", Help: "Times the DANE stage was switched on or off at run time after a conclusive validation check.",
		}, []string{"to"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailtls_audit_write_errors_total", Help: "Audit log lines that could not be written.",
		}),
		storeHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailtls_store_healthy", Help: "1 when the persistent store's last write succeeded, else 0 (also while it is open read-only or could not be opened); kept current by the store itself.",
		}),
		cacheLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailtls_cache_loaded", Help: "1 once the persistent store has been loaded into the hot store after start; until then lookups read the store.",
		}),
	}
	m.reg.MustRegister(m.queries, m.cache, m.fetches, m.dns, m.refreshed, m.validating, m.validationChecks, m.daneChanges, m.auditErrors, m.storeHealthy, m.cacheLoaded,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	m.queryCount = newQueryCounters(m.queries)
	return m
}

// storeHealthChanged is the store's OnHealth: the store itself keeps
// mailtls_store_healthy current on its errors and recoveries (it also logs them).
func (m *metrics) storeHealthChanged() func(error) {
	return func(err error) {
		if err != nil {
			m.storeHealthy.Set(0)
			return
		}
		m.storeHealthy.Set(1)
	}
}

// watchStore exports the persistent store's own counters: values refused for a checksum
// mismatch (each then looked up afresh) and expired entries the scheduled sweep deleted.
func (m *metrics) watchStore(st *sqlitestore.Store) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mailtls_store_corrupt_values_total",
			Help: "Stored values refused because their checksum did not match (corruption); each is looked up afresh.",
		}, func() float64 { return float64(st.Stats().Corrupt) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mailtls_store_swept_total", Help: "Expired entries the scheduled sweep deleted from the persistent store.",
		}, func() float64 { return float64(st.Stats().Swept) }),
	)
}

// watchHotStore exports what the engine's hot stores hold, by their estimate, against
// cache.max_bytes.
func (m *metrics) watchHotStore(e *policy.Engine) {
	for _, s := range []struct {
		store string
		get   func() float64
	}{
		{"sts", func() float64 { n, _, _ := e.HotStoreBytes(); return float64(n) }},
		{"dane", func() float64 { _, n, _ := e.HotStoreBytes(); return float64(n) }},
		{"mx", func() float64 { _, _, n := e.HotStoreBytes(); return float64(n) }},
	} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailtls_cache_bytes", Help: "What the hot store holds, as its entries' estimated cost (bounded by cache.max_bytes).",
			ConstLabels: prometheus.Labels{"store": s.store},
		}, s.get))
	}
}

func (m *metrics) observeDecision(d *policy.Decision) {
	m.queryCount.inc(d.Profile, d.Result, d.Source)
	if d.Source == policy.SourceInput {
		return
	}
	if d.CacheHit {
		m.cacheHit.Inc()
	} else {
		m.cacheMiss.Inc()
	}
}

func (m *metrics) observeDNS(qtype uint16, elapsed time.Duration, err error) {
	outcome := "answer"
	if err != nil {
		outcome = "error"
	}
	t := dns.TypeToString[qtype]
	if t == "" {
		t = strconv.Itoa(int(qtype))
	}
	m.dns.WithLabelValues(t, outcome).Observe(elapsed.Seconds())
}

// handler serves /metrics, /healthz (the process answers and its store writes) and
// /readyz (the listeners are up: answers are right from then on, read from the store while
// it is still being loaded into memory; mailtls_cache_loaded says when that is done). The
// body of /readyz also says how the DANE stage stands (dane); it is 503 while dane says
// not ok (DANE off and a profile requires it).
func (m *metrics) handler(ready *atomic.Bool, storeErr func() error, dane func() (bool, string)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := storeErr(); err != nil {
			m.storeHealthy.Set(0)
			http.Error(w, "degraded: serving from memory; store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		m.storeHealthy.Set(1)
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		ok, text := dane()
		if !ok {
			http.Error(w, "not ready\n"+text, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n" + text))
	})
	return mux
}
