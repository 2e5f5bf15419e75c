package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/collector"
	"github.com/mailtls/mailtls/tlsrpt/schemacheck"
)

// TestDatagramsToReport: datagrams sent as libtlsrpt sends them — successes and every
// failure code under sts, tlsa and no-policy-found policies — become one report per
// domain whose JSON matches the RFC 8460 §4 schema and whose counts are the hand-computed
// ones.
func TestDatagramsToReport(t *testing.T) {
	st := openStore(t, "")
	clk := &fakeClock{t: time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)}
	sock := filepath.Join(t.TempDir(), "tlsrpt.sock")
	col, err := collector.New(collector.Config{Socket: sock, Now: clk.Now}, st, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := col.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx) }()
	defer func() { cancel(); <-done }()

	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	send := func(s string) {
		t.Helper()
		for {
			err := syscall.Sendto(fd, []byte(s), syscall.MSG_DONTWAIT, &syscall.SockaddrUnix{Name: sock})
			if err == syscall.EAGAIN {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	const stsRec = "v=TLSRPTv1; rua=mailto:tlsrpt@sts.example"
	const stsPol = `"policy-type":2,"policy-domain":"sts.example","policy-string":["version: STSv1","mode: enforce","mx: mx.sts.example","max_age: 86400"],"mx-host":["mx.sts.example"]`
	const tlsaRec = "v=TLSRPTv1;rua=https://rpt.dane.example/in"
	const tlsaPol = `"policy-type":1,"policy-domain":"_25._tcp.mx.dane.example","policy-string":["3 1 1 AABBCC"]`
	dgram := func(domain, rec, pol, failures string, f int) string {
		fd := ""
		if failures != "" {
			fd = `,"failure-details":[` + failures + `]`
		}
		return fmt.Sprintf(`{"d":%q,"pr":%q,"policies":[{%s%s,"t":%d,"f":%d}]}`, domain, rec, pol, fd, strings.Count(failures, `"c":`), f)
	}
	// sts.example: 4 successes; one failure per negotiation and sts code (201-205, 301-303),
	// 203 twice from the same MX.
	for range 4 {
		send(dgram("sts.example", stsRec, stsPol, "", 0))
	}
	stsCodes := []int{201, 202, 203, 203, 204, 205, 301, 302, 303}
	for _, c := range stsCodes {
		send(dgram("sts.example", stsRec, stsPol, fmt.Sprintf(`{"c":%d,"s":"192.0.2.1","n":"mx.sts.example","r":"198.51.100.7"}`, c), 1))
	}
	// dane.example: 2 successes, 304, 305, 306 once each.
	for range 2 {
		send(dgram("dane.example", tlsaRec, tlsaPol, "", 0))
	}
	for _, c := range []int{304, 305, 306} {
		send(dgram("dane.example", tlsaRec, tlsaPol, fmt.Sprintf(`{"c":%d,"r":"198.51.100.8"}`, c), 1))
	}
	// plain.example: no policy found, 3 sessions, one STARTTLS missing.
	for range 3 {
		send(dgram("plain.example", "v=TLSRPTv1; rua=mailto:r@plain.example", `"policy-type":9,"policy-domain":"plain.example"`, "", 0))
	}
	send(dgram("plain.example", "v=TLSRPTv1; rua=mailto:r@plain.example", `"policy-type":9,"policy-domain":"plain.example"`, `{"c":201,"h":"250 mx.plain.example"}`, 1))
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	if err := col.Flush(fctx); err != nil {
		t.Fatal(err)
	}

	clk.Set(time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC))
	r, err := New(Config{Org: org, Now: clk.Now}, st, nil, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.BuildDue(context.Background(), clk.Now()); err != nil {
		t.Fatal(err)
	}
	chk, err := schemacheck.New()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		ok, failed int64
		details    map[tlsrpt.ResultType]int64
		ptype      tlsrpt.PolicyType
	}
	wants := map[string]want{
		"sts.example": {4, 9, map[tlsrpt.ResultType]int64{tlsrpt.StartTLSNotSupported: 1, tlsrpt.CertificateHostMismatch: 1, tlsrpt.CertificateNotTrusted: 2,
			tlsrpt.CertificateExpired: 1, tlsrpt.ValidationFailure: 1, tlsrpt.STSPolicyFetchError: 1, tlsrpt.STSPolicyInvalid: 1, tlsrpt.STSWebPKIInvalid: 1}, tlsrpt.PolicySTS},
		"dane.example":  {2, 3, map[tlsrpt.ResultType]int64{tlsrpt.TLSAInvalid: 1, tlsrpt.DNSSECInvalid: 1, tlsrpt.DANERequired: 1}, tlsrpt.PolicyTLSA},
		"plain.example": {3, 1, map[tlsrpt.ResultType]int64{tlsrpt.StartTLSNotSupported: 1}, tlsrpt.PolicyNotFound},
	}
	records := map[string]string{"sts.example": stsRec, "dane.example": tlsaRec, "plain.example": "v=TLSRPTv1; rua=mailto:r@plain.example"}
	for domain, w := range wants {
		body, err := st.Report(context.Background(), ReportID("2026-11-30", domain, records[domain], org.Submitter))
		if err != nil {
			t.Fatalf("%s: %v", domain, err)
		}
		if err := chk.Validate(body); err != nil {
			t.Fatalf("%s: %v\n%s", domain, err, body)
		}
		var rep tlsrpt.Report
		json.Unmarshal(body, &rep)
		if len(rep.Policies) != 1 {
			t.Fatalf("%s: %d policies", domain, len(rep.Policies))
		}
		p := rep.Policies[0]
		got := map[tlsrpt.ResultType]int64{}
		var sum int64
		for _, d := range p.FailureDetails {
			got[d.ResultType] += d.FailedSessionCount
			sum += d.FailedSessionCount
		}
		if p.Summary.Successful != w.ok || p.Summary.Failed != w.failed || sum != w.failed || p.Policy.Type != w.ptype || fmt.Sprint(got) != fmt.Sprint(w.details) {
			t.Errorf("%s: summary %+v, type %s, details %v; want %d/%d %s %v", domain, p.Summary, p.Policy.Type, got, w.ok, w.failed, w.ptype, w.details)
		}
		if domain == "sts.example" {
			t.Logf("sample report (sts.example): %s", body)
		}
		if domain == "plain.example" && p.FailureDetails[0].ReceivingMXHelo != "mx.plain.example" {
			t.Errorf("helo %+v", p.FailureDetails[0])
		}
	}
}
