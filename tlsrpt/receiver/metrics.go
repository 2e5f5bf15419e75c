package receiver

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the receiver's Prometheus series.
type Metrics struct {
	reports  *prometheus.CounterVec // by source and outcome
	sessions *prometheus.CounterVec // by result (success or an RFC 8460 §4.3 result type)
	alerts   *prometheus.CounterVec // by domain and kind
}

// NewMetrics registers the receiver's series with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailtls_tlsrpt_received_reports_total",
			Help: "TLS reports received from other senders, by source (https, mail) and outcome (stored, duplicate, too_large, malformed, unsigned, rate_limited, error)."},
			[]string{"source", "outcome"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailtls_tlsrpt_received_sessions_total",
			Help: "Sessions counted in stored received reports, by result: success or the RFC 8460 result type."},
			[]string{"result"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailtls_tlsrpt_received_alerts_total",
			Help: "Alerts raised on received reports, by policy domain and kind (failure_rate, new_failure_type)."},
			[]string{"domain", "kind"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.reports, m.sessions, m.alerts} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) report(source, outcome string) {
	if m != nil {
		m.reports.WithLabelValues(source, outcome).Inc()
	}
}
