package receiver

import (
	"context"
	"log/slog"
	"slices"

	"github.com/mailtls/mailtls/tlsrpt"
)

// Alerter raises an alert (a warning log line and mailtls_tlsrpt_received_alerts_total,
// so Alertmanager can page) when a stored report makes a policy domain's failure rate
// for that UTC day cross FailureRate, or reports a result type never seen before for
// that domain.
type Alerter struct {
	FailureRate float64 // e.g. 0.05; 0 disables the rate alert
	MinSessions int64   // sessions a day needs before its rate counts; default 10
}

// Check evaluates the alerts for the domains of r, which was just stored in st.
func (a *Alerter) Check(ctx context.Context, st *Store, r *tlsrpt.Report, m *Metrics, log *slog.Logger) {
	day := r.DateRange.Start.UTC().Format("2006-01-02")
	var domains []string
	types := map[string][]tlsrpt.ResultType{}
	for _, p := range r.Policies {
		if !slices.Contains(domains, p.Policy.Domain) {
			domains = append(domains, p.Policy.Domain)
		}
		for _, d := range p.FailureDetails {
			if !slices.Contains(types[p.Policy.Domain], d.ResultType) {
				types[p.Policy.Domain] = append(types[p.Policy.Domain], d.ResultType)
			}
		}
	}
	minS := a.MinSessions
	if minS <= 0 {
		minS = 10
	}
	for _, dom := range domains {
		if a.FailureRate > 0 {
			var okAll, failAll, okThis, failThis int64
			err := st.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(ok),0), COALESCE(SUM(failed),0),
				COALESCE(SUM(CASE WHEN organization = $3 AND report_id = $4 THEN ok ELSE 0 END),0),
				COALESCE(SUM(CASE WHEN organization = $3 AND report_id = $4 THEN failed ELSE 0 END),0)
				FROM rx_policies WHERE policy_domain = $1 AND day = $2`, dom, day, r.OrganizationName, r.ReportID).
				Scan(&okAll, &failAll, &okThis, &failThis)
			if err != nil {
				log.Error("tlsrpt: alert check", "domain", dom, "err", err)
				continue
			}
			after := rate(okAll, failAll, minS)
			before := rate(okAll-okThis, failAll-failThis, minS)
			if after >= a.FailureRate && before < a.FailureRate {
				log.Warn("tlsrpt alert: failure rate crossed the threshold", "alert", "failure_rate", "domain", dom, "day", day,
					"failure_rate", after, "threshold", a.FailureRate, "failed_sessions", failAll, "sessions", okAll+failAll,
					"organization", r.OrganizationName, "report_id", r.ReportID)
				if m != nil {
					m.alerts.WithLabelValues(dom, "failure_rate").Inc()
				}
			}
		}
		for _, t := range types[dom] {
			var seen int64
			err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM rx_failures WHERE policy_domain = $1 AND result_type = $2
				AND NOT (organization = $3 AND report_id = $4)`, dom, string(t), r.OrganizationName, r.ReportID).Scan(&seen)
			if err != nil {
				log.Error("tlsrpt: alert check", "domain", dom, "err", err)
				continue
			}
			if seen == 0 {
				log.Warn("tlsrpt alert: new failure type reported", "alert", "new_failure_type", "domain", dom, "day", day,
					"result_type", string(t), "organization", r.OrganizationName, "report_id", r.ReportID)
				if m != nil {
					m.alerts.WithLabelValues(dom, "new_failure_type").Inc()
				}
			}
		}
	}
}

// rate is failed/(ok+failed), or -1 when there are fewer than minSessions sessions.
func rate(ok, failed, minSessions int64) float64 {
	if ok+failed < minSessions || ok+failed == 0 {
		return -1
	}
	return float64(failed) / float64(ok+failed)
}
