package receiver

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
)

// tenPolicies is a gzip report with 10 policies, 2 failure details each, id-unique.
func tenPolicies(b *testing.B, id int) []byte {
	var s bytes.Buffer
	fmt.Fprintf(&s, `{"organization-name":"Bench Org","date-range":{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"},"contact-info":"mailto:x@bench.example","report-id":"bench-%d","policies":[`, id)
	for i := range 10 {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx%d.example.org","max_age: 604800"],"policy-domain":"example.org","mx-host":["mx%d.example.org"]},`+
			`"summary":{"total-successful-session-count":%d,"total-failure-session-count":3},"failure-details":[`+
			`{"result-type":"certificate-expired","sending-mta-ip":"198.51.100.%d","receiving-mx-hostname":"mx%d.example.org","receiving-ip":"203.0.113.%d","failed-session-count":2},`+
			`{"result-type":"starttls-not-supported","sending-mta-ip":"198.51.100.%d","receiving-ip":"203.0.113.%d","failed-session-count":1}]}`, i, i, 100+i, i, i, i, i, i)
	}
	s.WriteString("]}")
	return gz(b, s.String())
}

// BenchmarkHTTPSIngest: reports stored per second over HTTPS (loopback, TLS, keep-alive),
// gzip 10-policy reports, each new; Baseline is the same requests to a handler that only
// drains the body and answers 202 (TLS, HTTP and gzip-free ceiling of the same run).
// disk-B/report is the database file growth per stored report.
func BenchmarkHTTPSIngest(b *testing.B) {
	run := func(b *testing.B, h http.Handler) {
		srv := httptest.NewTLSServer(h)
		defer srv.Close()
		client := srv.Client()
		bodies := make([][]byte, b.N) // each a new report-id, compressed before timing
		for i := range bodies {
			bodies[i] = tenPolicies(b, i)
		}
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				body := bodies[n.Add(1)-1]
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/tlsrpt", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/tlsrpt+gzip")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
	}
	b.Run("Baseline", func(b *testing.B) {
		run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(202)
		}))
	})
	b.Run("Receiver", func(b *testing.B) {
		st := openTestStore(b)
		rc := &Receiver{Store: st, Log: slog.New(slog.DiscardHandler)}
		run(b, NewHandler(rc, RateLimit{}))
		b.StopTimer()
		n, _ := st.Count(context.Background())
		if n != int64(b.N) {
			b.Fatalf("%d stored, want %d", n, b.N)
		}
		st.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		fi, _ := os.Stat(st.Path())
		b.ReportMetric(float64(fi.Size())/float64(n), "disk-B/report")
	})
}

// BenchmarkSummary: `tlsrpt summary DOMAIN -since 30d` over N stored reports (default
// 100 000; MAILTLS_TLSRPT_BENCH_REPORTS=1000000 for the million), spread over 90
// days and 20 organisations, one report per (organisation, domain, day) as real reporters
// send them (so N/1800 domains), each with one policy and one failure detail, stored by
// the same code as Put (in transactions of 50 000). Domain30d is one domain's last 30
// days (620 rows), All30d every domain's (about a third of N rows match; the default
// limit keeps the first 10 000).
func BenchmarkSummary(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("MAILTLS_TLSRPT_BENCH_REPORTS")); err == nil && v > 0 {
		n = v
	}
	st := openTestStore(b)
	ctx := context.Background()
	start := time.Now()
	day0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	types := []tlsrpt.ResultType{tlsrpt.CertificateExpired, tlsrpt.StartTLSNotSupported, tlsrpt.ValidationFailure}
	var tx *sql.Tx
	for i := range n {
		if i%50000 == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			tx, _ = st.db.BeginTx(ctx, nil)
		}
		// As real reporters send: one report per (organisation, domain, day).
		dom := "d" + strconv.Itoa(i/(20*90)) + ".example"
		r := &tlsrpt.Report{OrganizationName: "org" + strconv.Itoa(i%20), ReportID: "r" + strconv.Itoa(i),
			DateRange: tlsrpt.DayRange(day0.AddDate(0, 0, -((i / 20) % 90))),
			Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: dom},
				Summary: tlsrpt.Summary{Successful: 1000, Failed: int64(i % 7)},
				FailureDetails: []tlsrpt.FailureDetail{{ResultType: types[i%3], SendingMTAIP: "198.51.100." + strconv.Itoa(i%200),
					ReceivingMXHostname: "mx." + dom, ReceivingIP: "203.0.113.1", FailedSessionCount: int64(i % 7)}}}}}
		if _, err := put(ctx, tx, r, []byte("{}"), Origin{Source: "https"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d reports inserted in %v", n, time.Since(start).Round(time.Millisecond))
	q := SummaryQuery{Domain: "d0.example", Since: day0.AddDate(0, 0, -30)}
	b.Run(fmt.Sprintf("Domain30d/%d", n), func(b *testing.B) {
		for b.Loop() {
			s, err := st.Summary(ctx, q)
			if err != nil || len(s.Rows) == 0 {
				b.Fatalf("%v %d", err, len(s.Rows))
			}
		}
	})
	b.Run(fmt.Sprintf("All30d/%d", n), func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Summary(ctx, SummaryQuery{Since: day0.AddDate(0, 0, -30)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
