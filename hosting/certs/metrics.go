package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme/autocert"
)

// Metrics are the certificate series.
type Metrics struct {
	expiryAt *prometheus.GaugeVec
	events   *prometheus.CounterVec
	failures prometheus.Counter
}

// NewMetrics creates and registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		expiryAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailtls_hosting_certificate_expiry_timestamp_seconds",
			Help: "When the certificate served for each policy host name expires (Unix time).",
		}, []string{"name"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtls_hosting_acme_certificates_total",
			Help: "Certificates stored from the ACME CA: issued (first for a name) or renewed.",
		}, []string{"event"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailtls_hosting_acme_failures_total",
			Help: "Failed attempts to get a certificate from the ACME CA.",
		}),
	}
	reg.MustRegister(m.expiryAt, m.events, m.failures)
	return m
}

func (m *Metrics) expiry(name string, c *tls.Certificate) {
	if m == nil || len(c.Certificate) == 0 {
		return
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return
		}
	}
	m.expiryAt.WithLabelValues(name).Set(float64(leaf.NotAfter.Unix()))
}

func (m *Metrics) failure() {
	if m != nil {
		m.failures.Inc()
	}
}

func (m *Metrics) stored(renewed bool) {
	if m == nil {
		return
	}
	ev := "issued"
	if renewed {
		ev = "renewed"
	}
	m.events.WithLabelValues(ev).Inc()
}

// countingCache is autocert's directory cache, counting certificates as they are stored
// (autocert has no hook of its own for issuance and renewal).
type countingCache struct {
	autocert.DirCache
	metrics *Metrics
	log     *slog.Logger
}

func (c *countingCache) Put(ctx context.Context, key string, data []byte) error {
	isCert := key != "acme_account+key" && !strings.HasSuffix(key, "+token")
	renewed := false
	if isCert {
		_, err := c.DirCache.Get(ctx, key)
		renewed = !errors.Is(err, autocert.ErrCacheMiss)
	}
	if err := c.DirCache.Put(ctx, key, data); err != nil {
		return err
	}
	if isCert {
		c.metrics.stored(renewed)
		c.log.Info("hosting: ACME certificate stored", "name", strings.TrimSuffix(key, "+rsa"), "renewed", renewed)
	}
	return nil
}
