package policy

import (
	"reflect"
	"testing"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// Packing a record into the hot store's compact state and unpacking it gives the record
// back, whether its fields are the standard ones (derived, not stored) or not.
func TestSTSStateRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pol := &mtasts.Policy{Version: mtasts.PolicyVersion, Mode: mtasts.ModeEnforce, MaxAge: 86400, MX: []string{"mx.a.example"}, Lines: []string{"version: STSv1"}}
	for _, r := range []stsRecord{
		{Domain: "a.example", RecordID: "1", TXT: []string{"v=STSv1; id=1;"}, TXTChecked: at, TXTTTL: time.Hour,
			Policy: pol, PolicyID: "1", URL: "https://mta-sts.a.example/.well-known/mta-sts.txt", Fetched: at, Expires: at.Add(24 * time.Hour)},
		{Domain: "neg.example", TXTReason: "no TXT records: _mta-sts.neg.example. does not exist", TXTChecked: at, TXTTTL: time.Minute},
		{Domain: "neg.example", TXTReason: "no TXT records", TXTChecked: at, TXTTTL: time.Minute},
		{Domain: "odd.example", RecordID: "2", TXT: []string{"v=STSv1;id=2"}, TXTReason: "strange", TXTChecked: at, TXTTTL: 1500 * time.Millisecond,
			Policy: pol, PolicyID: "1", URL: "https://elsewhere.example/", Fetched: at, Expires: at.Add(time.Hour),
			FailedID: "2", FailedAt: at, FailType: "sts-webpki-invalid", FailReason: "bad certificate",
			DNSFailedAt: at.Add(time.Second), DNSError: "timeout"},
		{Domain: "url.example", URL: "https://mta-sts.url.example/.well-known/mta-sts.txt", TXT: []string{"v=STSv1; id=3;"}},
		{Domain: "ttl.example", TXTTTL: -time.Second},
		{Domain: "id.example", PolicyID: "7"},
		{Domain: "gone.example", TXTReason: "no TXT records: _mta-sts.gone.example. does not exist", Policy: pol, PolicyID: "5",
			URL: "https://mta-sts.gone.example/.well-known/mta-sts.txt", Fetched: at, Expires: at.Add(time.Hour)},
	} {
		got := newSTSState(nil, &r, nil, 0).record()
		if !reflect.DeepEqual(utcRecord(got), utcRecord(&r)) {
			t.Errorf("round trip of %+v\ngave %+v", r, *got)
		}
	}
}

// The common states keep nothing in detail.
func TestSTSStateCommonHasNoDetail(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pol := &mtasts.Policy{Version: mtasts.PolicyVersion, Mode: mtasts.ModeEnforce, MaxAge: 86400, MX: []string{"mx.a.example"}}
	for _, r := range []stsRecord{
		{Domain: "a.example", RecordID: "1", TXT: []string{"v=STSv1; id=1;"}, TXTChecked: at, TXTTTL: time.Hour,
			Policy: pol, PolicyID: "1", URL: "https://mta-sts.a.example/.well-known/mta-sts.txt", Fetched: at, Expires: at.Add(24 * time.Hour)},
		{Domain: "neg.example", TXTReason: "no TXT records: _mta-sts.neg.example. does not exist", TXTChecked: at, TXTTTL: time.Minute},
	} {
		if st := newSTSState(nil, &r, nil, 0); st.detail != nil {
			t.Errorf("%s: detail %+v", r.Domain, *st.detail)
		}
	}
	if got := reflect.TypeFor[stsState]().Size(); got > 80 {
		t.Errorf("stsState is %d bytes, want at most 80", got)
	}
}
