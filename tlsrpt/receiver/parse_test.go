package receiver

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
)

func TestParseRFCExample(t *testing.T) {
	r, err := Parse([]byte(rfcSample("5065427c-23d3-47ca-b6e0-946ea0e8c4be")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OrganizationName != "Company-X" || len(r.Policies) != 1 {
		t.Fatalf("got %+v", r)
	}
	p := r.Policies[0]
	if p.Summary.Successful != 5326 || p.Summary.Failed != 303 || len(p.FailureDetails) != 3 {
		t.Fatalf("policy %+v", p)
	}
	if p.FailureDetails[2].FailureReasonCode != "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED" || p.FailureDetails[1].ReceivingIP != "203.0.113.56" {
		t.Fatalf("details %+v", p.FailureDetails)
	}
	if !r.DateRange.Start.Equal(time.Date(2016, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("start %v", r.DateRange.Start)
	}
}

func TestParseLiberalShapes(t *testing.T) {
	r, err := Parse([]byte(bigReporterShape("r1")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Policies[0]
	if p.Policy.Type != tlsrpt.PolicySTS || p.Policy.Domain != "example.org" {
		t.Fatalf("policy type/domain not normalised: %+v", p.Policy)
	}
	if len(p.Policy.MXHost) != 1 || p.Policy.MXHost[0] != "mx.example.org" {
		t.Fatalf("mx-host as a string not accepted: %+v", p.Policy.MXHost)
	}
	if r.DateRange.Start != time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC) || r.DateRange.End.Second() != 59 {
		t.Fatalf("zone-less date-times: %v %v", r.DateRange.Start, r.DateRange.End)
	}
	if r.ContactInfo != "" || len(p.FailureDetails) != 0 {
		t.Fatalf("missing optional members: %+v", r)
	}
	if got := r.Policies[1].FailureDetails[0]; got.ResultType != tlsrpt.StartTLSNotSupported || got.FailedSessionCount != 2 {
		t.Fatalf("detail %+v", got)
	}
}

func TestParseRejects(t *testing.T) {
	ok := rfcSample("x")
	cases := map[string]struct {
		in   string
		want error
	}{
		"not json":         {"{", ErrMalformed},
		"no org":           {strings.Replace(ok, `"organization-name": "Company-X",`, "", 1), ErrMalformed},
		"no report-id":     {strings.Replace(ok, `"report-id": "x",`, "", 1), ErrMalformed},
		"bad date":         {strings.Replace(ok, "2016-04-01T00:00:00Z", "yesterday", 1), ErrMalformed},
		"bad policy type":  {strings.Replace(ok, `"policy-type": "sts"`, `"policy-type": "dane"`, 1), ErrMalformed},
		"no summary":       {strings.Replace(ok, `"total-successful-session-count": 5326, `, "", 1), ErrMalformed},
		"negative":         {strings.Replace(ok, "5326", "-1", 1), ErrMalformed},
		"mx-host number":   {strings.Replace(ok, `"mx-host": ["*.mail.company-y.example"]`, `"mx-host": 7`, 1), ErrMalformed},
		"10000 policies":   {manyPolicies(10000), ErrTooLarge},
		"deep":             {strings.Repeat("[", 100) + strings.Repeat("]", 100), ErrTooLarge},
		"deep in a member": {strings.Replace(ok, `"contact-info"`, `"x":`+strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40)+`,"contact-info"`, 1), ErrTooLarge},
		"many strings":     {strings.Replace(ok, `"version: STSv1"`, strings.Repeat(`"a",`, 1001)+`"version: STSv1"`, 1), ErrTooLarge},
		"not utf-8":        {strings.Replace(ok, "Company-X", "Company-\xff", 1), ErrMalformed},
		"empty policies":   {`{"organization-name":"a","report-id":"b","date-range":{"start-datetime":"2024-01-01T00:00:00Z","end-datetime":"2024-01-01T00:00:00Z"},"policies":[]}`, ErrMalformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(c.in), Limits{})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// 1000 policies is within the default limit.
	if _, err := Parse([]byte(manyPolicies(1000)), Limits{}); err != nil {
		t.Fatalf("1000 policies: %v", err)
	}
}

func TestReadBodyLimits(t *testing.T) {
	lim := Limits{MaxCompressed: 64 << 10, MaxDecompressed: 1 << 20}
	if b, err := ReadBody(bytes.NewReader(gz(t, rfcSample("a"))), true, lim); err != nil || !bytes.Contains(b, []byte("Company-X")) {
		t.Fatalf("gzip body: %v", err)
	}
	// A gzip bomb: 1 GiB of zeros, about 1 MiB compressed... keep it under the compressed
	// limit by making it 50 MiB (≈ 50 KiB compressed): refused at 1 MiB inflated.
	b := bomb(t, 50<<20)
	if int64(len(b)) > lim.MaxCompressed {
		t.Fatalf("bomb is %d bytes compressed; the test wants it under the compressed limit", len(b))
	}
	cr := &countingReader{r: bytes.NewReader(b)}
	if _, err := ReadBody(cr, true, lim); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bomb: %v", err)
	}
	// Truncated gzip.
	full := gz(t, rfcSample("a"))
	if _, err := ReadBody(bytes.NewReader(full[:len(full)/2]), true, lim); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	// Not gzip at all.
	if _, err := ReadBody(strings.NewReader(rfcSample("a")), true, lim); !errors.Is(err, ErrMalformed) {
		t.Fatalf("json as gzip: %v", err)
	}
	// Over the compressed limit: at most MaxCompressed+1 bytes are read.
	big := bytes.Repeat([]byte(" "), 10<<20)
	cr = &countingReader{r: bytes.NewReader(big)}
	if _, err := ReadBody(cr, false, lim); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big json: %v", err)
	}
	if cr.n > lim.MaxCompressed+1 {
		t.Fatalf("read %d bytes of an oversized body, limit %d", cr.n, lim.MaxCompressed)
	}
}
