package receiver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAlerts(t *testing.T) {
	rc, _ := newTestReceiver(t, Limits{})
	var logs bytes.Buffer
	rc.Log = slog.New(slog.NewTextHandler(&logs, nil))
	rc.Alerts = &Alerter{FailureRate: 0.10, MinSessions: 10}
	ctx := context.Background()
	// Day 1 of example.org: 42 ok, 0 failed (sts) + 1 ok, 2 failed (no policy) → 2/45 ≈ 4 %:
	// below the threshold, but starttls-not-supported is new.
	if _, _, err := rc.Accept(ctx, []byte(bigReporterShape("a")), Origin{Source: "https"}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(rc.Metrics.alerts.WithLabelValues("example.org", "new_failure_type")); got != 1 {
		t.Fatalf("new failure type alerts %v, want 1\n%s", got, logs.String())
	}
	if got := testutil.ToFloat64(rc.Metrics.alerts.WithLabelValues("example.org", "failure_rate")); got != 0 {
		t.Fatalf("failure rate alert at 4 %%")
	}
	// Another reporter, same day and type, 10 failures: 12/57 ≈ 21 % crosses 10 %; the
	// type is not new any more.
	other := strings.NewReplacer(`"Big Mail Inc."`, `"Other"`, `"failed-session-count":2`, `"failed-session-count":10`,
		`"total-failure-session-count":2`, `"total-failure-session-count":10`).Replace(bigReporterShape("b"))
	if _, _, err := rc.Accept(ctx, []byte(other), Origin{Source: "mail"}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(rc.Metrics.alerts.WithLabelValues("example.org", "failure_rate")); got != 1 {
		t.Fatalf("failure rate alerts %v, want 1\n%s", got, logs.String())
	}
	if got := testutil.ToFloat64(rc.Metrics.alerts.WithLabelValues("example.org", "new_failure_type")); got != 1 {
		t.Fatalf("a seen type alerted again")
	}
	// A third report keeps the rate above: no second alert for the same crossing.
	third := strings.Replace(other, `"Other"`, `"Third"`, 1)
	rc.Accept(ctx, []byte(third), Origin{Source: "mail"})
	if got := testutil.ToFloat64(rc.Metrics.alerts.WithLabelValues("example.org", "failure_rate")); got != 1 {
		t.Fatalf("failure rate alerted again while staying above: %v", got)
	}
	if !strings.Contains(logs.String(), "alert=failure_rate") || !strings.Contains(logs.String(), "alert=new_failure_type") {
		t.Fatalf("alert log lines missing:\n%s", logs.String())
	}
}
