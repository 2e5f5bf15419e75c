package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/jsonenc"
	"github.com/mailtls/mailtls/policy"
)

// refLine is the audit line as it was written before lines were encoded by hand: an
// auditLine filled from the decision and encoded by encoding/json. appendLine must give
// the same bytes.
func refLine(t testing.TB, c config.Audit, d *policy.Decision, reply string, now time.Time, latency time.Duration) []byte {
	l := auditLine{
		Time: now.UTC(), Profile: d.Profile, Key: d.Key, Domain: d.Domain, Answer: reply,
		Source: d.Source, Would: d.Would, CacheHit: d.CacheHit,
		LatencyMS: float64(latency.Microseconds()) / 1000,
	}
	hash := func(s string) string {
		if s == "" {
			return ""
		}
		m := hmac.New(sha256.New, []byte(c.HashKey))
		m.Write([]byte(s))
		return "hmac:" + hex.EncodeToString(m.Sum(nil)[:16])
	}
	if !c.HashDomains {
		l.Reasons = d.Reasons()
	} else {
		l.Key, l.Domain, l.Hashed = hash(d.Key), hash(d.Domain), true
		l.Answer = redactReply(l.Answer)
		if l.Would != nil {
			w := *l.Would
			w.Reply = redactReply(w.Reply)
			l.Would = &w
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// checkLine compares appendLine's bytes for one decision with refLine's, plain and hashed.
func checkLine(t testing.TB, d *policy.Decision, reply string, now time.Time, latency time.Duration) {
	t.Helper()
	for _, c := range []config.Audit{{File: "-"}, {File: "-", HashDomains: true, HashKey: "0123456789abcdef-secret"}} {
		a, err := openAudit(c, func(int, error) {})
		if err != nil {
			t.Fatal(err)
		}
		want := refLine(t, c, d, reply, now, latency)
		got, ok := a.appendLine([]byte("x"), d, reply, now, latency)
		if !ok || string(got[1:]) != string(want) {
			t.Fatalf("hashed=%v: got\n%s(ok %v)\nencoding/json\n%s", c.HashDomains, got[1:], ok, want)
		}
	}
}

// appendLine writes, byte for byte, the line encoding/json writes for auditLine: every
// field set and unset (omitempty), report-only "would", reasons nil, empty and set,
// hashed mode, latencies from zero to hours, times in other zones, and strings that need
// escaping in every string field.
func TestAuditLineMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 1, 19, 17, 21, 123456789, time.FixedZone("x", 3600))
	latencies := []time.Duration{0, time.Nanosecond, 999 * time.Nanosecond, time.Microsecond, 40 * time.Microsecond,
		1234567 * time.Nanosecond, 25 * time.Second, 3 * time.Hour}
	full := func(s string) *policy.Decision {
		d := &policy.Decision{Key: "[" + s + "]:25", Domain: s, Profile: s, Source: policy.Source(s), CacheHit: true,
			Would: &policy.Would{Reply: "OK secure match=" + s + " servername=hostname", Source: policy.Source(s)}}
		d.SetReasons([]string{s, "second " + s})
		return d
	}
	var cases []*policy.Decision
	for _, s := range jsonenc.TrickyStrings() {
		cases = append(cases, full(s), &policy.Decision{Key: s})
	}
	empty := &policy.Decision{Profile: "postfix", Key: "a.example", Source: policy.SourceDefault}
	empty.SetReasons([]string{})
	cases = append(cases, &policy.Decision{}, empty,
		&policy.Decision{Profile: "dry", Key: "a.example", Domain: "a.example", Source: policy.SourceReportOnly,
			Would: &policy.Would{Reply: "OK", Source: policy.SourceOverride}})
	for i, d := range cases {
		for _, reply := range []string{"", "NOTFOUND ", "OK secure match=mx.a.example servername=hostname", "TEMP " + d.Key} {
			checkLine(t, d, reply, now.Add(time.Duration(i)*time.Millisecond), latencies[i%len(latencies)])
		}
	}
	for _, l := range latencies {
		checkLine(t, cases[0], "OK", now, l)
	}
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Now()} {
		checkLine(t, cases[0], "OK", tm, time.Millisecond)
	}
}

// A time RFC 3339 cannot carry (encoding/json refuses it too) gives no line and an error.
func TestAuditLineBadTime(t *testing.T) {
	a, err := openAudit(config.Audit{File: "-"}, func(int, error) {})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close(nil)
	if err := a.record(&policy.Decision{Key: "a.example"}, "OK", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 0); err != errAuditTime {
		t.Fatalf("record: %v, want errAuditTime", err)
	}
}

func FuzzAuditLine(f *testing.F) {
	for i, s := range jsonenc.TrickyStrings() {
		f.Add(s, s, s, s, s, i%2 == 0, int64(i)*1e5)
	}
	f.Fuzz(func(t *testing.T, key, domain, reply, source, reason string, hit bool, latency int64) {
		d := &policy.Decision{Key: key, Domain: domain, Profile: source, Source: policy.Source(source), CacheHit: hit}
		if hit {
			d.Would = &policy.Would{Reply: reply, Source: policy.Source(reason)}
		}
		d.SetReasons([]string{reason, key})
		checkLine(t, d, reply, time.Unix(0, latency), time.Duration(latency))
	})
}
