package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/schemacheck"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

var org = Org{Name: "Example Sender", Contact: "mailto:postmaster@sender.example", Submitter: "sender.example"}

// TestBuildDayReport: after midnight (and the build delay) one report per (day, domain,
// record) is built, valid against the RFC 8460 §4 schema, with the counts put in, a
// stable report-id and the rua of the day's record as destinations.
func TestBuildDayReport(t *testing.T) {
	st := openStore(t, "")
	fill(t, st, "2026-11-30", map[string][2]int64{"a.example": {7, 3}, "b.example": {2, 0}},
		func(d string) string { return "mailto:tlsrpt@" + d + ",https://rpt." + d + "/v1" })
	clk := &fakeClock{t: time.Date(2026, 12, 1, 0, 2, 0, 0, time.UTC)}
	r, err := New(Config{Org: org, Now: clk.Now}, st, nil, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.BuildDue(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.Deliveries(ctx, ""); len(d) != 0 {
		t.Fatalf("built before the build delay: %+v", d)
	}
	clk.Set(time.Date(2026, 12, 1, 0, 10, 0, 0, time.UTC))
	if err := r.BuildDue(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Deliveries(ctx, store.StatePending)
	if err != nil || len(ds) != 4 {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	chk, err := schemacheck.New()
	if err != nil {
		t.Fatal(err)
	}
	body, err := st.Report(ctx, ReportID("2026-11-30", "a.example", "v=TLSRPTv1; rua=mailto:tlsrpt@a.example,https://rpt.a.example/v1", org.Submitter))
	if err != nil {
		t.Fatal(err)
	}
	if err := chk.Validate(body); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	t.Logf("report: %s", body)
	var rep tlsrpt.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.OrganizationName != org.Name || rep.ContactInfo != org.Contact ||
		rep.DateRange.Start != time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) || rep.DateRange.End != time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC) {
		t.Fatalf("header %+v", rep)
	}
	p := rep.Policies[0]
	if len(rep.Policies) != 1 || p.Summary != (tlsrpt.Summary{Successful: 7, Failed: 3}) || p.Policy.Type != tlsrpt.PolicySTS ||
		len(p.FailureDetails) != 1 || p.FailureDetails[0].FailedSessionCount != 3 || p.FailureDetails[0].ResultType != tlsrpt.CertificateExpired {
		t.Fatalf("policies %+v", rep.Policies)
	}
	var uris []string
	for _, d := range ds {
		if d.Domain == "a.example" {
			uris = append(uris, d.URI)
		}
		if d.NextAttempt.Before(clk.Now()) || d.NextAttempt.After(clk.Now().Add(4*time.Hour)) {
			t.Errorf("first attempt %v outside the window", d.NextAttempt)
		}
	}
	slices.Sort(uris)
	if !slices.Equal(uris, []string{"https://rpt.a.example/v1", "mailto:tlsrpt@a.example"}) {
		t.Errorf("destinations %v", uris)
	}
	// Built once: a second pass and late counts for the day change nothing.
	if err := r.BuildDue(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	b := store.NewBatch()
	b.Sessions[store.Group{Day: "2026-11-30", Domain: "a.example", Record: "v=TLSRPTv1; rua=mailto:x@a.example", Policy: "{}"}] = &store.Counts{OK: 1}
	if dropped, err := st.Apply(ctx, b); err != nil || dropped != 1 {
		t.Fatalf("late counts: dropped %d, %v", dropped, err)
	}
	if days, _ := st.UnbuiltDays(ctx, "2026-12-02"); len(days) != 0 {
		t.Fatalf("unbuilt days %v", days)
	}
}

// TestRetryBackoffAndGiveUp: a failing destination is retried with growing back-off for
// at least 24 h and then given up; the other destination is delivered once.
func TestRetryBackoffAndGiveUp(t *testing.T) {
	st := openStore(t, "")
	fill(t, st, "2026-11-30", map[string][2]int64{"a.example": {1, 0}},
		func(d string) string { return "mailto:ok@" + d + ",https://down." + d + "/" })
	clk := &fakeClock{t: time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)}
	s := newRecSender()
	s.failures["https://down.a.example/"] = 1 << 30
	r, err := New(Config{Org: org, Now: clk.Now, Window: time.Minute, RetryFor: time.Hour /* raised to 24 h */}, st,
		map[string]Sender{"https": s, "mailto": s}, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := clk.Now()
	var attempts []time.Time
	for clk.Now().Before(start.Add(30 * time.Hour)) {
		before := s.tries
		if err := r.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if s.tries > before {
			attempts = append(attempts, clk.Now())
		}
		clk.Advance(5 * time.Minute)
	}
	ds, _ := st.Deliveries(ctx, "")
	var down store.Delivery
	for _, d := range ds {
		if d.URI == "https://down.a.example/" {
			down = d
		}
	}
	if down.State != store.StateFailed || down.DoneAt.Sub(start) < 24*time.Hour || down.LastError == "" {
		t.Fatalf("down destination %+v", down)
	}
	if n := s.sent[ReportID("2026-11-30", "a.example", "v=TLSRPTv1; rua=mailto:ok@a.example,https://down.a.example/", org.Submitter)+" mailto:ok@a.example"]; n != 1 {
		t.Fatalf("good destination delivered %d times", n)
	}
	for i := 2; i < len(attempts)-1; i++ { // the last try is clipped to the give-up time
		if attempts[i].Sub(attempts[i-1]) < attempts[i-1].Sub(attempts[i-2]) && attempts[i].Sub(attempts[i-1]) < 4*time.Hour {
			t.Errorf("back-off shrank: %v", attempts)
		}
	}
	t.Logf("attempts to the failing destination: %d over %v", down.Attempts, down.DoneAt.Sub(start))
}

// TestRestartMidWindowDeliversOnce: the reporter stops half-way through the delivery
// window and a new one (new process: store reopened) finishes; every report reaches every
// destination exactly once. Pruning then removes them after KeepFor.
func TestRestartMidWindowDeliversOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tlsrpt.db")
	st := openStore(t, path)
	domains := map[string][2]int64{}
	for i := range 40 {
		domains[fmt.Sprintf("d%02d.example", i)] = [2]int64{int64(i), 1}
	}
	fill(t, st, "2026-11-30", domains, func(d string) string { return "mailto:r@" + d + ",https://" + d + "/r" })
	clk := &fakeClock{t: time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)}
	s := newRecSender()
	cfg := Config{Org: org, Now: clk.Now, Window: 4 * time.Hour, KeepFor: 72 * time.Hour}
	senders := map[string]Sender{"https": s, "mailto": s}
	r1, err := New(cfg, st, senders, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 24 { // 2 h of the 4 h window
		if err := r1.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(5 * time.Minute)
	}
	half := len(s.sent)
	st.Close()
	if half == 0 || half == 80 {
		t.Fatalf("%d of 80 deliveries before the restart: the window did not spread them", half)
	}
	st2 := openStore(t, path)
	r2, err := New(cfg, st2, senders, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 60 {
		if err := r2.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(5 * time.Minute)
	}
	if len(s.sent) != 80 {
		t.Fatalf("%d distinct deliveries, want 80", len(s.sent))
	}
	for k, n := range s.sent {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	if ds, _ := st2.Deliveries(ctx, store.StateSent); len(ds) != 80 {
		t.Errorf("%d recorded as sent", len(ds))
	}
	t.Logf("%d of 80 deliveries before the restart, the rest after, each once", half)
	clk.Advance(72 * time.Hour)
	if err := r2.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if ds, _ := st2.Deliveries(ctx, ""); len(ds) != 0 {
		t.Errorf("not pruned: %d", len(ds))
	}
}
