package collector

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/tlsrpt"
)

// TestObserverRecordsFetchFailures: the resolver's MTA-STS failures become failed sts
// sessions with the right result type, only for domains with a TLSRPT record.
func TestObserverRecordsFetchFailures(t *testing.T) {
	srv := dnstest.New(t)
	srv.Add(`_smtp._tls.rpt.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@rpt.example"`)
	srv.Add(`_smtp._tls.two.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:a@two.example"`)
	srv.Add(`_smtp._tls.two.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:b@two.example"`)
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{srv.Addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{})
	o := NewObserver(h.c, dc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Run(ctx)
	// Handled in order: the last observation counted means the first two were looked at.
	o.STSFetchFailed("norpt.example", string(tlsrpt.STSPolicyFetchError), "refused") // no TLSRPT record
	o.STSFetchFailed("two.example", string(tlsrpt.STSPolicyFetchError), "refused")   // two records: none (§3)
	o.STSFetchFailed("rpt.example", string(tlsrpt.STSWebPKIInvalid), "x509: certificate signed by unknown authority")
	o.STSFetchFailed("rpt.example", string(tlsrpt.STSWebPKIInvalid), "x509: certificate signed by unknown authority")
	o.STSFetchFailed("rpt.example", string(tlsrpt.STSPolicyInvalid), "bad\nversion")
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.flush(t)
		groups, err := h.st.Day(context.Background(), "2026-11-30")
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) == 1 && groups[0].Policies[0].Counts.Failed == 3 {
			g := groups[0]
			if g.Domain != "rpt.example" || g.Record != "v=TLSRPTv1; rua=mailto:tlsrpt@rpt.example" || len(g.Policies) != 1 || len(g.Policies[0].Details) != 2 {
				t.Fatalf("%+v", g)
			}
			var p tlsrpt.Policy
			json.Unmarshal([]byte(g.Policies[0].Policy), &p)
			if p.Type != tlsrpt.PolicySTS || p.Domain != "rpt.example" {
				t.Fatalf("policy %+v", p)
			}
			n := map[tlsrpt.ResultType]int64{}
			for _, d := range g.Policies[0].Details {
				var fd tlsrpt.FailureDetail
				json.Unmarshal([]byte(d.Detail), &fd)
				n[fd.ResultType] += d.N
			}
			if n[tlsrpt.STSWebPKIInvalid] != 2 || n[tlsrpt.STSPolicyInvalid] != 1 {
				t.Fatalf("details %v", n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("groups %+v", groups)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
