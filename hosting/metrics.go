package hosting

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/mtasts"
)

// statusCodes are the statuses the handler answers with; others count as "other".
var statusCodes = [...]int{200, 404, 503}

// Metrics are the policy host's series, registered on the daemon's registry.
type Metrics struct {
	requests *prometheus.CounterVec
	// reqs caches the counters of every class and status, so a request does no label
	// lookup.
	reqs     [numClasses][len(statusCodes) + 1]prometheus.Counter
	domains  *prometheus.GaugeVec
	upstream *prometheus.CounterVec
	changes  prometheus.Counter
}

// NewMetrics creates the series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_hosting_requests_total",
			Help: "Requests to the MTA-STS policy host by domain class (hosted, mirror, retiring, unknown) and HTTP status.",
		}, []string{"class", "status"}),
		domains: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailtls_hosting_domains",
			Help: "Hosted domains by state: serving, failed (nothing valid to serve), pending (not computed yet).",
		}, []string{"state"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_hosting_upstream_failures_total",
			Help: "Failed fetches of mirrored upstream policies, by RFC 8460 result type.",
		}, []string{"result"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailtls_hosting_policy_changes_total",
			Help: "Changes of a served policy id (each also written to the log and the audit file).",
		}),
	}
	reg.MustRegister(m.requests, m.domains, m.upstream, m.changes)
	for c := range numClasses {
		for i, code := range statusCodes {
			m.reqs[c][i] = m.requests.WithLabelValues(c.String(), strconv.Itoa(code))
		}
		m.reqs[c][len(statusCodes)] = m.requests.WithLabelValues(c.String(), "other")
	}
	return m
}

func (m *Metrics) request(c Class, status int) {
	if m == nil {
		return
	}
	i := len(statusCodes)
	for j, code := range statusCodes {
		if code == status {
			i = j
		}
	}
	m.reqs[c][i].Inc()
}

// UpstreamFailure counts a failed mirror fetch.
func (m *Metrics) UpstreamFailure(t mtasts.ResultType) { m.upstream.WithLabelValues(string(t)).Inc() }

// PolicyChanged counts a served id change.
func (m *Metrics) PolicyChanged() { m.changes.Inc() }

func (m *Metrics) observeDomains(t *table, now time.Time) {
	var serving, failing, pending int
	for _, e := range t.list {
		switch p := e.cur.Load(); {
		case p == nil:
			pending++
		case p.Servable(now):
			serving++
		default:
			failing++
		}
	}
	m.domains.WithLabelValues("serving").Set(float64(serving))
	m.domains.WithLabelValues("failed").Set(float64(failing))
	m.domains.WithLabelValues("pending").Set(float64(pending))
}
