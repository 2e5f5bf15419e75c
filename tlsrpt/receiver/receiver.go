package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
)

// ErrNotOurs refuses a report about domains this mailtls does not serve.
var ErrNotOurs = errors.New("report is not about a domain of ours")

// Receiver accepts parsed reports into the store, counts them and raises alerts. Both
// the HTTPS endpoint and mail ingestion go through it.
type Receiver struct {
	Store   *Store
	Limits  Limits
	Metrics *Metrics // nil: not counted
	Log     *slog.Logger
	Alerts  *Alerter // nil: no alerts
	// Ours, when set, says which policy domains are ours: a report about none of them
	// is refused (ErrNotOurs), so strangers cannot fill the store with other domains.
	Ours func(domain string) bool
	Now  func() time.Time
}

func (rc *Receiver) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}

func (rc *Receiver) log() *slog.Logger {
	if rc.Log != nil {
		return rc.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Accept parses the report's JSON and stores it. It returns the report and whether it
// was new (false: the same organisation's report-id was stored before).
func (rc *Receiver) Accept(ctx context.Context, raw []byte, o Origin) (*tlsrpt.Report, bool, error) {
	r, err := Parse(raw, rc.Limits)
	if err != nil {
		return nil, false, err
	}
	if rc.Ours != nil && !slices.ContainsFunc(r.Policies, func(p tlsrpt.PolicyResult) bool { return rc.Ours(p.Policy.Domain) }) {
		return r, false, fmt.Errorf("%w: %s", ErrNotOurs, r.Policies[0].Policy.Domain)
	}
	if o.Received.IsZero() {
		o.Received = rc.now()
	}
	isNew, err := rc.Store.Put(ctx, r, raw, o)
	if err != nil {
		return r, false, err
	}
	if !isNew {
		rc.Metrics.report(o.Source, "duplicate")
		rc.log().Info("tlsrpt: duplicate report ignored", "organization", r.OrganizationName, "report_id", r.ReportID, "source", o.Source)
		return r, false, nil
	}
	rc.Metrics.report(o.Source, "stored")
	if rc.Metrics != nil {
		for _, p := range r.Policies {
			rc.Metrics.sessions.WithLabelValues("success").Add(float64(p.Summary.Successful))
			for _, d := range p.FailureDetails {
				rc.Metrics.sessions.WithLabelValues(resultLabel(d.ResultType)).Add(float64(d.FailedSessionCount))
			}
		}
	}
	rc.log().Info("tlsrpt: report received", "organization", r.OrganizationName, "report_id", r.ReportID,
		"source", o.Source, "submitter", o.Submitter, "policies", len(r.Policies))
	if rc.Alerts != nil {
		rc.Alerts.Check(ctx, rc.Store, r, rc.Metrics, rc.log())
	}
	return r, true, nil
}

// resultLabel bounds the label's values to the RFC's result types.
func resultLabel(t tlsrpt.ResultType) string {
	if t.Known() {
		return string(t)
	}
	return "other"
}
