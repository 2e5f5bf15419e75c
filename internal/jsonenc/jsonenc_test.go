package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
	"time"
	"unicode/utf8"
)

// AppendString gives exactly encoding/json's bytes for every tricky string.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range TrickyStrings() {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, encoding/json %s", s, got, want)
		}
	}
	for _, ss := range [][]string{nil, {}, {"a"}, TrickyStrings()} {
		want, _ := json.Marshal(ss)
		if got := AppendStrings(nil, ss); string(got) != string(want) {
			t.Errorf("%q: got %s, encoding/json %s", ss, got, want)
		}
	}
}

// Every string, however broken, becomes valid JSON that decodes to the string with
// invalid UTF-8 replaced, byte for byte as encoding/json encodes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range TrickyStrings() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString([]byte("x"), s)[1:]
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || !utf8.ValidString(string(got)) {
			t.Fatalf("%q: %s does not decode: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q decodes to %q", s, back)
		}
	})
}

// AppendTimeUTC gives encoding/json's bytes for the UTC form of a time, nanoseconds with
// and without trailing zeros, and refuses the years encoding/json refuses.
func TestAppendTimeUTCMatchesEncodingJSON(t *testing.T) {
	zone := time.FixedZone("x", -(7*3600 + 30*60))
	for _, tm := range []time.Time{
		{}, time.Unix(0, 0), time.Date(2026, 12, 1, 19, 17, 21, 0, time.UTC),
		time.Date(2026, 12, 1, 19, 17, 21, 123456789, time.UTC), time.Date(2026, 12, 1, 19, 17, 21, 120000000, time.UTC),
		time.Date(2026, 12, 1, 23, 59, 59, 1, zone), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Now(), time.Now().In(zone),
	} {
		want, err := json.Marshal(tm.UTC())
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := AppendTimeUTC(nil, tm); !ok || string(got) != string(want) {
			t.Errorf("%v: got %s (%v), encoding/json %s", tm, got, ok, want)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := json.Marshal(tm); err == nil {
			t.Fatalf("%v: encoding/json accepts it", tm)
		}
		if got, ok := AppendTimeUTC([]byte("x"), tm); ok || string(got) != "x" {
			t.Errorf("%v: got %s, %v; want it refused and nothing appended", tm, got, ok)
		}
	}
}

// floats whose JSON form needs care: zero and negative zero, the exponent thresholds on
// both sides, shortest round-trip digits, the audit log's latencies.
var floats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.001, 0.04, 1.5, 12.345, 1e-6, 9.99e-7, 1e-7, 1.5e-9, 1e-300,
	1e20, 1e21, 123456789012345678901234.0, -1e21, math.MaxFloat64, math.SmallestNonzeroFloat64,
	0.1 + 0.2, 1 / 3.0, 25000.001, float64(1<<53) + 1,
}

// AppendFloat gives encoding/json's bytes for every finite float.
func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range floats {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("%v: got %s, encoding/json %s", f, got, want)
		}
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range floats {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		want, _ := json.Marshal(x)
		if got := AppendFloat([]byte("x"), x)[1:]; string(got) != string(want) {
			t.Fatalf("%v: got %s, encoding/json %s", x, got, want)
		}
	})
}
