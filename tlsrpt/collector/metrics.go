package collector

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	received, accepted, observations, flushes, flushErrors prometheus.Counter
	rejected                                               *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailtls_tlsrpt_datagrams_received_total",
			Help: "TLSRPT datagrams read from the collector socket."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailtls_tlsrpt_results_counted_total",
			Help: "Delivery results counted: datagrams accepted plus the resolver's own observations."}),
		observations: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailtls_tlsrpt_observations_total",
			Help: "MTA-STS failures the resolver itself observed for domains that publish TLSRPT."}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailtls_tlsrpt_batches_written_total",
			Help: "Aggregation batches written to the TLS reporting store."}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailtls_tlsrpt_batch_errors_total",
			Help: "Failed writes of an aggregation batch (retried)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailtls_tlsrpt_datagrams_rejected_total",
			Help: "TLSRPT datagrams and observations refused, by reason."}, []string{"reason"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.received, m.accepted, m.observations, m.flushes, m.flushErrors, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
