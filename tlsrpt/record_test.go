package tlsrpt

import (
	"errors"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord("v=TLSRPTv1; rua=mailto:tlsrpt@example.com, https://reports.example.com/v1 ;ext=1")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.RUA) != 2 || r.RUA[0].String() != "mailto:tlsrpt@example.com" || r.RUA[1].Host != "reports.example.com" {
		t.Fatalf("rua = %v", r.RUA)
	}
	if MailtoAddress(r.RUA[0]) != "tlsrpt@example.com" {
		t.Errorf("mailto address %q", MailtoAddress(r.RUA[0]))
	}
	for _, bad := range []string{
		"v=TLSRPTv2; rua=mailto:a@example.com",       // wrong version
		"v=TLSRPTv1x; rua=mailto:a@example.com",      // not the version field
		"v=TLSRPTv1; rua=ftp://example.com/x",        // no usable scheme
		"v=TLSRPTv1;",                                // no rua
		"v=TLSRPTv1; rua=mailto:a@x; rua=mailto:b@x", // rua twice
		"v=TLSRPTv1; garbage",                        // field without =
	} {
		if _, err := ParseRecord(bad); err == nil {
			t.Errorf("ParseRecord(%q) accepted", bad)
		}
	}
	// §3: only one v=TLSRPTv1 record may remain.
	if _, err := SelectRecord([]string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@x", "v=TLSRPTv1;rua=mailto:b@x"}); !errors.Is(err, ErrNoRecord) {
		t.Errorf("two records: %v", err)
	}
	if got, err := SelectRecord([]string{"v=spf1 -all", "v=TLSRPTv1;rua=mailto:b@x"}); err != nil || got != "v=TLSRPTv1;rua=mailto:b@x" {
		t.Errorf("one record: %q %v", got, err)
	}
}

func TestResultCodesAndDay(t *testing.T) {
	for code := 100; code < 400; code++ {
		rt, ok := ResultTypeForCode(code)
		if ok != rt.Known() || ok != (code >= 201 && code <= 205 || code >= 301 && code <= 306) {
			t.Errorf("code %d: %q %v", code, rt, ok)
		}
	}
	d := DayRange(time.Date(2026, 3, 1, 23, 59, 59, 0, time.FixedZone("x", -3600)))
	if d.Start != time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) || d.End != time.Date(2026, 3, 2, 23, 59, 59, 0, time.UTC) {
		t.Errorf("day range %v", d)
	}
}
