package schemacheck

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
)

func sample() tlsrpt.Report {
	return tlsrpt.Report{
		OrganizationName: "Example Sender", ContactInfo: "tlsrpt@sender.example", ReportID: "2026-11-30.abc@sender.example",
		DateRange: tlsrpt.DayRange(time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)),
		Policies: []tlsrpt.PolicyResult{{
			Policy:  tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com", String: []string{"version: STSv1", "mode: enforce"}, MXHost: []string{"*.example.com"}},
			Summary: tlsrpt.Summary{Successful: 10, Failed: 2},
			FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.CertificateNotTrusted, SendingMTAIP: "192.0.2.1",
				ReceivingMXHostname: "mx.example.com", ReceivingIP: "2001:db8::1", FailedSessionCount: 2}},
		}},
	}
}

// TestSchemaAcceptsModel: the model's JSON of a full report matches the schema, and the
// schema catches what RFC 8460 §4.4 forbids.
func TestSchemaAcceptsModel(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(b); err != nil {
		t.Fatalf("model report rejected: %v\n%s", err, b)
	}
	breaks := map[string]func(r *tlsrpt.Report){
		"unknown result type": func(r *tlsrpt.Report) { r.Policies[0].FailureDetails[0].ResultType = "weird" },
		"unknown policy type": func(r *tlsrpt.Report) { r.Policies[0].Policy.Type = "dane" },
		"no policies":         func(r *tlsrpt.Report) { r.Policies = nil },
		"negative count":      func(r *tlsrpt.Report) { r.Policies[0].Summary.Failed = -1 },
		"zero failed count":   func(r *tlsrpt.Report) { r.Policies[0].FailureDetails[0].FailedSessionCount = 0 },
		"bad sending ip":      func(r *tlsrpt.Report) { r.Policies[0].FailureDetails[0].SendingMTAIP = "not-an-ip" },
		"raw EHLO as helo":    func(r *tlsrpt.Report) { r.Policies[0].FailureDetails[0].ReceivingMXHelo = "250-mx\r\n250 STARTTLS" },
		"empty report-id":     func(r *tlsrpt.Report) { r.ReportID = "" },
	}
	for name, brk := range breaks {
		r := sample()
		r.Policies[0].FailureDetails = append([]tlsrpt.FailureDetail(nil), r.Policies[0].FailureDetails...)
		brk(&r)
		b, _ := json.Marshal(r)
		if err := c.Validate(b); err == nil {
			t.Errorf("%s: accepted: %s", name, b)
		}
	}
	if err := c.Validate([]byte(`{"organization-name":`)); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("truncated JSON: %v", err)
	}
}
