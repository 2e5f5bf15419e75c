package policy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/mtasts"
)

// codecRecords are MTA-STS records the codec must carry unchanged: common and odd ones.
func codecRecords() []stsRecord {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pol := &mtasts.Policy{Version: mtasts.PolicyVersion, Mode: mtasts.ModeEnforce, MaxAge: 86400, MX: []string{"mx.a.example", "*.a.example"}}
	pol.Lines = canonicalLines(pol)
	odd := &mtasts.Policy{Version: mtasts.PolicyVersion, Mode: mtasts.ModeTesting, MaxAge: 600, MX: []string{"mx.b.example"}, Lines: []string{"version: STSv1", "mx: mx.b.example", "mode: testing", "max_age: 600", "x: {y}"}}
	return []stsRecord{
		{Domain: "a.example", RecordID: "1", TXT: []string{"v=STSv1; id=1;"}, TXTChecked: at, TXTTTL: time.Hour,
			Policy: pol, PolicyID: "1", URL: "https://mta-sts.a.example/.well-known/mta-sts.txt", Fetched: at, Expires: at.Add(24 * time.Hour)},
		{Domain: "neg.example", TXTReason: "no TXT records: _mta-sts.neg.example. does not exist", TXTChecked: at, TXTTTL: time.Minute},
		{Domain: "b.example", RecordID: "2", TXT: []string{"v=STSv1;id=2", "other"}, TXTReason: "", TXTChecked: at.Add(time.Nanosecond), TXTTTL: 1500 * time.Millisecond,
			Policy: odd, PolicyID: "1", URL: "https://elsewhere.example/", Fetched: at, Expires: at.Add(time.Hour),
			FailedID: "2", FailedAt: at, FailType: "sts-webpki-invalid", FailReason: "bad certificate",
			DNSFailedAt: at.Add(time.Second), DNSError: "timeout"},
		{Domain: "c.example", RecordID: "3", TXTReason: "strange", FailedID: "9"},
		{Domain: "d.example"},
		{Domain: "e.example", PolicyID: "7"},
		{Domain: "f.example", TXTReason: "no TXT records: _mta-sts.f.example. does not exist", Policy: pol, PolicyID: "5",
			URL: "https://mta-sts.f.example/.well-known/mta-sts.txt", Fetched: at, Expires: at.Add(time.Hour)},
	}
}

// Every record survives encoding, and the old JSON values still decode to the same.
func TestSTSCodecRoundTrip(t *testing.T) {
	for _, r := range codecRecords() {
		got, err := decodeSTS(encodeSTS(&r))
		if err != nil {
			t.Fatalf("%s: %v", r.Domain, err)
		}
		if !reflect.DeepEqual(utcRecord(got), utcRecord(&r)) {
			t.Errorf("round trip of %+v\ngave %+v", r, *got)
		}
		js, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		old, err := decodeSTS(js)
		if err != nil {
			t.Fatalf("%s: JSON: %v", r.Domain, err)
		}
		if !reflect.DeepEqual(utcRecord(old), utcRecord(&r)) {
			t.Errorf("JSON %s\ngave %+v", js, *old)
		}
	}
}

// Load's decoding, which leaves the standard fields to newSTSState, packs the same state.
func TestSTSDecodeIntoForLoad(t *testing.T) {
	for _, r := range codecRecords() {
		var rec stsRecord
		std, err := decodeSTSInto(encodeSTS(&r), &rec, r.Domain, false)
		if err != nil {
			t.Fatalf("%s: %v", r.Domain, err)
		}
		if got := newSTSState(nil, &rec, nil, std).record(); !reflect.DeepEqual(utcRecord(got), utcRecord(&r)) {
			t.Errorf("%+v\nloaded as %+v", r, *got)
		}
	}
}

// codecDANEHosts are the hosts of a dane answer: one with two usable records, one
// without TLSA, one whose lookup failed.
func codecDANEHosts() *DANEHosts {
	return &DANEHosts{MXSecure: true, Hosts: []DANEHost{
		{Name: "mx1.a.example", Preference: 10, TLSABase: "mx1.a.example", State: dane.HostDANE, TLSA: []DANETLSA{
			{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("ab", 32)},
			{Usage: 2, Selector: 0, MatchingType: 2, Data: strings.Repeat("01", 64)},
		}},
		{Name: "mx2.a.example", Preference: 65535, State: dane.HostNoTLSA},
		{Name: "mx3.a.example", Preference: 20, TLSABase: "target.b.example", State: dane.HostFailed},
	}}
}

// DANE outcomes survive encoding, hosts included; the old JSON values and format-1 values
// still decode (without hosts); a state stays within 72 bytes.
func TestDANECodecRoundTrip(t *testing.T) {
	if got := reflect.TypeFor[daneState]().Size(); got > 72 {
		t.Errorf("daneState is %d bytes, want at most 72", got)
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, st := range []daneState{
		{Domain: "a.example", Outcome: dane.DANEOnly, Reasons: []string{"x", "y"}, checked: unixNano(at), expires: unixNano(at.Add(time.Hour)), hosts: codecDANEHosts()},
		{Domain: "[relay.example]:587", Outcome: dane.DANEOnly, checked: unixNano(at), expires: unixNano(at.Add(time.Hour)),
			hosts: &DANEHosts{NoMX: true, Hosts: []DANEHost{{Name: "relay.example", TLSABase: "relay.example", State: dane.HostDANE,
				TLSA: []DANETLSA{{Usage: 3, Selector: 0, MatchingType: 0, Data: "3000"}}}}}},
		{Domain: "b.example", Outcome: dane.TempFail, checked: unixNano(at), expires: unixNano(at.Add(time.Second))},
	} {
		got, err := decodeDANE(encodeDANE(&st))
		if err != nil {
			t.Fatalf("%s: %v", st.Domain, err)
		}
		if !reflect.DeepEqual(*got, st) {
			t.Errorf("%s: round trip gave %+v (hosts %+v), want %+v", st.Domain, *got, got.hosts, st)
		}
		old := daneJSON{Domain: st.Domain, Outcome: st.Outcome, Reasons: st.Reasons, Checked: st.Checked(), Expires: st.Expires()}
		for _, b := range [][]byte{formatOneDANE(&st), must(json.Marshal(&old))} {
			got, err := decodeDANE(b)
			if err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			if got.Domain != st.Domain || got.Outcome != st.Outcome || !reflect.DeepEqual(got.Reasons, st.Reasons) ||
				got.checked != st.checked || got.expires != st.expires || got.hosts != nil {
				t.Errorf("%q gave %+v, want %+v without hosts", b, *got, st)
			}
		}
	}
}

// formatOneDANE is st as format 1 stored it (before hosts were kept).
func formatOneDANE(st *daneState) []byte {
	e := encoder{}
	e.byte(daneFormat1)
	e.str(st.Domain)
	e.int(int64(st.Outcome))
	e.strs(st.Reasons)
	e.int(st.checked)
	e.int(st.expires)
	return e.buf
}

// Every proper prefix of a DANE value with hosts, a trailing byte, unknown flags, host
// states and preferences out of range are refused.
func TestDANECodecRefusesDamage(t *testing.T) {
	st := daneState{Domain: "a.example", Outcome: dane.DANE, Reasons: []string{"x"}, hosts: codecDANEHosts()}
	b := encodeDANE(&st)
	for n := range len(b) {
		if _, err := decodeDANE(b[:n]); err == nil {
			t.Errorf("the first %d of %d bytes decode", n, len(b))
		}
	}
	if _, err := decodeDANE(append(b, 0)); err == nil {
		t.Error("a trailing byte is accepted")
	}
	head := formatOneDANE(&st)
	head[0] = daneFormat
	for name, tail := range map[string][]byte{
		"flags":      {0x09, 0},
		"no present": {0x02, 0},
		"preference": {0x01, 1, 1, 'm', 0x80, 0x80, 0x04, 0, 0, 0},
		"state":      {0x01, 1, 1, 'm', 10, 0, 8, 0},
		"hosts":      {0x01, 0xff, 0x01},
	} {
		if _, err := decodeDANE(append(slices.Clone(head), tail...)); err == nil {
			t.Errorf("%s: damaged hosts decode", name)
		}
	}
	if _, err := decodeDANE(append(slices.Clone(head), 0x01, 1, 1, 'm', 10, 0, 2, 0)); err != nil {
		t.Errorf("a well-formed host is refused: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Every proper prefix of a value, and a value with a byte too many, is refused.
func TestSTSCodecRefusesDamage(t *testing.T) {
	for _, r := range codecRecords() {
		b := encodeSTS(&r)
		for n := range len(b) {
			if _, err := decodeSTS(b[:n]); err == nil {
				t.Errorf("%s: the first %d of %d bytes decode", r.Domain, n, len(b))
			}
		}
		if _, err := decodeSTS(append(b, 0)); err == nil {
			t.Errorf("%s: a trailing byte is accepted", r.Domain)
		}
	}
	for _, b := range [][]byte{nil, {2}, {stsFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {stsFormat, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
		if _, err := decodeSTS(b); err == nil {
			t.Errorf("%q decodes", b)
		}
	}
}

// FuzzDecodeState: hostile stored values give an error, never a panic or an allocation
// beyond their size; what decodes re-encodes to a value that decodes to the same.
func FuzzDecodeState(f *testing.F) {
	for _, r := range codecRecords() {
		f.Add(encodeSTS(&r))
		f.Add(must(json.Marshal(&r)))
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	f.Add(encodeDANE(&daneState{Domain: "a.example", Outcome: dane.DANEOnly, Reasons: []string{"x"}, checked: unixNano(at), expires: unixNano(at)}))
	f.Add(encodeDANE(&daneState{Domain: "a.example", Outcome: dane.DANE, checked: unixNano(at), expires: unixNano(at), hosts: codecDANEHosts()}))
	f.Add([]byte{stsFormat, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec stsRecord
		std, errLoad := decodeSTSInto(b, &rec, "a.example", false)
		if r, err := decodeSTS(b); err == nil {
			if errLoad != nil {
				t.Fatalf("decodeSTS reads what Load refuses: %v", errLoad)
			}
			want, got := newSTSState(nil, r, nil, 0).record(), newSTSState(nil, &rec, nil, std).record()
			if !reflect.DeepEqual(utcRecord(got), utcRecord(want)) {
				t.Fatalf("Load packs %+v, decodeSTS %+v", *got, *want)
			}
			again, err := decodeSTS(encodeSTS(r))
			if err != nil {
				t.Fatalf("re-encoded %+v does not decode: %v", *r, err)
			}
			if !isJSON(b) && !reflect.DeepEqual(utcRecord(again), utcRecord(r)) {
				t.Fatalf("%+v re-encoded gave %+v", *r, *again)
			}
		}
		if st, err := decodeDANE(b); err == nil {
			if _, err := decodeDANE(encodeDANE(st)); err != nil {
				t.Fatalf("re-encoded %+v does not decode: %v", *st, err)
			}
		}
	})
}

// A stored DANE outcome this version does not know is refused (the domain is looked up
// again) rather than read as "no DANE", which could weaken a dane-only domain.
func TestDecodeDANERefusesUnknownOutcome(t *testing.T) {
	for _, o := range []dane.Outcome{-1, dane.NoMail + 1, 99} {
		b := encodeDANE(&daneState{Domain: "example.com", Outcome: o})
		if _, err := decodeDANE(b); err == nil {
			t.Errorf("outcome %d decoded without error", int(o))
		}
	}
	if _, err := decodeDANE(encodeDANE(&daneState{Domain: "example.com", Outcome: dane.DANEOnly})); err != nil {
		t.Errorf("dane-only: %v", err)
	}
}
