package receiver

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"
)

// rfcSample is built from the example of RFC 8460 §4.5 (a report with one sts policy,
// a validation failure and a certificate-expired), in the shape the RFC prints.
func rfcSample(id string) string {
	return `{
  "organization-name": "Company-X",
  "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "` + id + `",
  "policies": [{
    "policy": {"policy-type": "sts",
      "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"],
      "policy-domain": "company-y.example", "mx-host": ["*.mail.company-y.example"]},
    "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
    "failure-details": [
      {"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1",
       "receiving-mx-hostname": "mx1.mail.company-y.example", "failed-session-count": 100},
      {"result-type": "starttls-not-supported", "sending-mta-ip": "2001:db8:abcd:0013::1",
       "receiving-mx-hostname": "mx2.mail.company-y.example", "receiving-ip": "203.0.113.56",
       "failed-session-count": 200, "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"},
      {"result-type": "validation-failure", "sending-mta-ip": "198.51.100.62", "receiving-ip": "203.0.113.58",
       "receiving-mx-hostname": "mx-backup.mail.company-y.example", "failed-session-count": 3,
       "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"}]
  }]
}`
}

// bigReporterShape is in the shape of the large webmail reporters: mx-host as a plain
// string (RFC 8460 erratum), date-times without a zone and with fractions, a members
// RFC 8460 does not define, no failure-details and no contact-info.
func bigReporterShape(id string) string {
	return `{"organization-name":"Big Mail Inc.","date-range":{"start-datetime":"2024-05-01T00:00:00","end-datetime":"2024-05-01T23:59:59.999"},
"report-id":"` + id + `","x-extension":{"a":[1,2,3]},
"policies":[{"policy":{"policy-type":"STS","policy-string":["version: STSv1","mode: enforce","mx: mx.example.org","max_age: 604800"],
"policy-domain":"Example.ORG.","mx-host":"mx.example.org"},"summary":{"total-successful-session-count":42,"total-failure-session-count":0}},
{"policy":{"policy-type":"no-policy-found","policy-domain":"example.org"},"summary":{"total-successful-session-count":1,"total-failure-session-count":2},
"failure-details":[{"result-type":"starttls-not-supported","receiving-ip":"192.0.2.9","failed-session-count":2,"vendor-member":true}]}]}`
}

// manyPolicies is a syntactically valid report with n policies.
func manyPolicies(n int) string {
	var b strings.Builder
	b.WriteString(`{"organization-name":"Flood","date-range":{"start-datetime":"2024-05-01T00:00:00Z","end-datetime":"2024-05-01T23:59:59Z"},"contact-info":"x","report-id":"flood","policies":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"policy":{"policy-type":"no-policy-found","policy-domain":"d%d.example"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}`, i)
	}
	b.WriteString("]}")
	return b.String()
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bomb is gzip of n zero bytes (about n/1000 bytes compressed).
func bomb(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		w.Write(chunk[:k])
		n -= k
	}
	w.Close()
	return b.Bytes()
}
