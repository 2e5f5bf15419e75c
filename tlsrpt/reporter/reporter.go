package reporter

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// Sender delivers one report to one destination URI.
type Sender interface {
	Send(ctx context.Context, u *url.URL, m *Message, gz []byte) error
}

// MinRetryFor is the shortest time a delivery is retried (the spec's "at least a day").
const MinRetryFor = 24 * time.Hour

// Config configures a reporter.
type Config struct {
	Org Org
	// BuildDelay is how long after UTC midnight the previous day's reports are built
	// (late results are written within the collector's flush interval); default 5 min.
	BuildDelay time.Duration
	// Window spreads the first delivery attempts over this long after the build
	// (RFC 8460 §5.1); default 4 h.
	Window time.Duration
	// RetryFor is how long a failing delivery is retried (at least MinRetryFor; default
	// 48 h). Back-off doubles from MinBackoff to MaxBackoff.
	RetryFor               time.Duration
	MinBackoff, MaxBackoff time.Duration
	// KeepFor is how long reports are kept before pruning; default 30 days.
	KeepFor time.Duration
	// Interval is how often the reporter looks for work; default 1 min.
	Interval time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BuildDelay, 5*time.Minute)
	def(&c.Window, 4*time.Hour)
	def(&c.RetryFor, 48*time.Hour)
	c.RetryFor = max(c.RetryFor, MinRetryFor)
	def(&c.MinBackoff, 10*time.Minute)
	def(&c.MaxBackoff, 4*time.Hour)
	def(&c.KeepFor, 30*24*time.Hour)
	def(&c.Interval, time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Reporter builds and delivers reports.
type Reporter struct {
	cfg     Config
	st      *store.Store
	senders map[string]Sender // by URI scheme: "https", "mailto"
	log     *slog.Logger
	m       *metrics
}

// New builds a reporter over st with senders by URI scheme; a scheme without a sender
// is not delivered to (and logged). reg may be nil.
func New(cfg Config, st *store.Store, senders map[string]Sender, log *slog.Logger, reg prometheus.Registerer) (*Reporter, error) {
	cfg.defaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Reporter{cfg: cfg, st: st, senders: senders, log: log, m: m}, nil
}

// Run does the reporter's work every Interval until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Tick(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("tlsrpt reporter", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick builds the reports of finished days, delivers what is due and prunes old
// reports.
func (r *Reporter) Tick(ctx context.Context) error {
	now := r.cfg.Now().UTC()
	var errs []error
	if err := r.BuildDue(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := r.DeliverDue(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if n, err := r.st.Prune(ctx, now.Add(-r.cfg.KeepFor)); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		r.log.Info("tlsrpt reports pruned", "reports", n)
	}
	return errors.Join(errs...)
}

// BuildDue builds the reports of every finished day not built yet: days before today, once
// BuildDelay has passed since midnight.
func (r *Reporter) BuildDue(ctx context.Context, now time.Time) error {
	midnight := tlsrpt.DayRange(now).Start
	today := midnight.Format(time.DateOnly)
	if now.Before(midnight.Add(r.cfg.BuildDelay)) {
		today = midnight.Add(-24 * time.Hour).Format(time.DateOnly) // yesterday may still get late results
	}
	days, err := r.st.UnbuiltDays(ctx, today)
	if err != nil {
		return err
	}
	for _, day := range days {
		if err := r.buildDay(ctx, day, now); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reporter) buildDay(ctx context.Context, day string, now time.Time) error {
	groups, err := r.st.Day(ctx, day)
	if err != nil {
		return err
	}
	var out []store.NewReport
	for _, g := range groups {
		rep, err := Build(g, r.cfg.Org)
		if err != nil {
			return err
		}
		body, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("reporter: %w", err)
		}
		nr := store.NewReport{ID: rep.ReportID, Day: day, Domain: g.Domain, Record: g.Record, Body: body,
			FirstAttempt: now.Add(spread(rep.ReportID, r.cfg.Window))}
		if rec, err := tlsrpt.ParseRecord(g.Record); err == nil {
			for _, u := range rec.RUA {
				nr.Destinations = append(nr.Destinations, u.String())
			}
		} else {
			r.log.Warn("tlsrpt report has no destination", "report", rep.ReportID, "err", err)
		}
		out = append(out, nr)
	}
	if err := r.st.SaveDay(ctx, day, out, now, now.Add(r.cfg.RetryFor)); err != nil {
		return err
	}
	r.m.built.Add(float64(len(out)))
	r.log.Info("tlsrpt reports built", "day", day, "reports", len(out))
	return nil
}

// DeliverDue tries every delivery whose time has come.
func (r *Reporter) DeliverDue(ctx context.Context, now time.Time) error {
	for {
		due, err := r.st.Due(ctx, now, 100)
		if err != nil {
			return err
		}
		for _, d := range due {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := r.deliver(ctx, d, now); err != nil {
				return err
			}
		}
		if len(due) < 100 {
			return nil
		}
	}
}

// deliver makes one attempt and records its outcome; only a store error is returned.
func (r *Reporter) deliver(ctx context.Context, d store.Delivery, now time.Time) error {
	body, err := r.st.Report(ctx, d.ReportID)
	if err != nil {
		return err
	}
	var rep tlsrpt.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("reporter: stored report %s: %w", d.ReportID, err)
	}
	msg := &Message{ReportID: rep.ReportID, Domain: d.Domain, Range: rep.DateRange}
	sendErr := r.send(ctx, d.URI, msg, body)
	if sendErr == nil {
		r.m.deliveries.WithLabelValues("sent").Inc()
		r.log.Info("tlsrpt report delivered", "report", d.ReportID, "to", d.URI)
		return r.st.MarkSent(ctx, d.ReportID, d.URI, r.cfg.Now())
	}
	next := now.Add(r.backoff(d.Attempts))
	gaveUp, err := r.st.MarkFailed(ctx, d.ReportID, d.URI, sendErr, next, r.cfg.Now())
	if err != nil {
		return err
	}
	if gaveUp {
		r.m.deliveries.WithLabelValues("failed").Inc()
		r.log.Warn("tlsrpt report delivery given up", "report", d.ReportID, "to", d.URI, "attempts", d.Attempts+1, "err", sendErr)
	} else {
		r.m.deliveries.WithLabelValues("retry").Inc()
		r.log.Info("tlsrpt report delivery failed; will retry", "report", d.ReportID, "to", d.URI, "next", next, "err", sendErr)
	}
	return nil
}

func (r *Reporter) send(ctx context.Context, uri string, msg *Message, body []byte) error {
	u, err := tlsrpt.ParseRUA(uri)
	if err != nil {
		return err
	}
	s := r.senders[u.Scheme]
	if s == nil {
		return fmt.Errorf("reporter: no sender configured for %s: URIs", u.Scheme)
	}
	return s.Send(ctx, u, msg, Gzip(body))
}

// backoff is the wait after the attempts-th failed attempt (0-based): MinBackoff doubling
// up to MaxBackoff.
func (r *Reporter) backoff(attempts int) time.Duration {
	d := r.cfg.MinBackoff
	for range min(attempts, 20) {
		d *= 2
		if d >= r.cfg.MaxBackoff {
			return r.cfg.MaxBackoff
		}
	}
	return d
}

// Gzip compresses a report (RFC 8460 §5.2/§5.3: application/tlsrpt+gzip).
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

type metrics struct {
	built      prometheus.Counter
	deliveries *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		built: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailtls_tlsrpt_reports_built_total",
			Help: "RFC 8460 reports built (one per day, policy domain and TLSRPT record)."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailtls_tlsrpt_deliveries_total",
			Help: "Report delivery attempts by outcome: sent, retry (failed, will retry) or failed (given up)."}, []string{"outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.built, m.deliveries} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
