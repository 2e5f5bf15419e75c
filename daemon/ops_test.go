package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/policy"
)

// opsLab is a daemon on the lab with a domain for every answer source, the audit log and
// the metrics endpoint on.
type opsLab struct {
	addr, metrics, audit string
	d                    *Daemon
}

func startOpsLab(t *testing.T, extra string) *opsLab {
	t.Helper()
	l := lab.New(t)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example"))
	l.DNS.Add(
		"dane.example. 300 IN MX 10 mx.dane.example.",
		"mx.dane.example. 300 IN A 192.0.2.10",
		"_25._tcp.mx.dane.example. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"none.example. 300 IN A 192.0.2.11",
		"asn.example. 300 IN MX 10 mx.asn.example.",
		"mx.asn.example. 300 IN A 192.0.2.20",
	)
	dir := t.TempDir()
	asnDB := filepath.Join(dir, "ip2asn.tsv")
	if err := os.WriteFile(asnDB, []byte("192.0.2.16\t192.0.2.31\t64500\tZZ\tTEST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &opsLab{addr: lab.FreeAddr(t), metrics: lab.FreeAddr(t), audit: filepath.Join(dir, "audit.log")}
	yaml := l.Config("", o.addr, dir) + fmt.Sprintf(`
audit: {file: %s}
metrics: {listen: "%s"}
overrides:
  - {domain: over.example, level: encrypt}
asn:
  database: %s
  rules: [{name: test-providers, asns: [64500], level: encrypt}]
profiles:
  dry: {report_only: true}
`, o.audit, o.metrics, asnDB) + extra
	o.d = startDaemon(t, "ops.yaml", yaml).Daemon
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + o.metrics + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return o
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (o *opsLab) scrape(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + o.metrics + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var sourceCases = []struct{ profile, key, source, answer string }{
	{"postfix", "over.example", "override", "OK encrypt"},
	{"postfix", "dane.example", "dane", "OK dane-only"},
	{"postfix", "sts.example", "mta-sts", "OK secure match=mx.sts.example servername=hostname"},
	{"postfix", "none.example", "default", "NOTFOUND "},
	{"postfix", "asn.example", "asn", "OK encrypt"},
	{"dry", "sts.example", "report-only", "NOTFOUND "},
	{"postfix", "[192.0.2.1]", "input", "NOTFOUND "},
}

// Issue 5: /metrics counters move for each answer source; health endpoints answer.
func TestMetricsPerSource(t *testing.T) {
	o := startOpsLab(t, "")
	for _, c := range sourceCases {
		if got := lab.Query(t, o.addr, c.profile, c.key); got != c.answer {
			t.Fatalf("%s %s: %q, want %q", c.profile, c.key, got, c.answer)
		}
	}
	lab.Query(t, o.addr, "postfix", "sts.example") // a cache hit
	code, body := o.scrape(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, c := range sourceCases {
		answer := strings.Fields(c.answer)[0]
		want := fmt.Sprintf(`mailtls_queries_total{answer=%q,profile=%q,source=%q}`, answer, c.profile, c.source)
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, want := range []string{
		`mailtls_queries_total{answer="OK",profile="postfix",source="mta-sts"} 2`,
		`mailtls_cache_lookups_total{result="hit"}`,
		`mailtls_cache_lookups_total{result="miss"}`,
		`mailtls_sts_fetches_total{outcome="success"}`,
		`mailtls_dns_query_duration_seconds_count{outcome="answer",type="TXT"}`,
		`mailtls_dns_query_duration_seconds_count{outcome="answer",type="TLSA"}`,
		"mailtls_resolver_validating 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := o.scrape(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	// The store loads in the background after the listeners open; the gauge says when.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := o.scrape(t, "/metrics"); strings.Contains(body, "mailtls_cache_loaded 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mailtls_cache_loaded never became 1")
		}
	}
}

// Issue 5: one audit line per answered query, with its source, answer, reasons, cache
// state and latency.
func TestAuditLinePerSource(t *testing.T) {
	o := startOpsLab(t, "")
	for _, c := range sourceCases {
		lab.Query(t, o.addr, c.profile, c.key)
	}
	o.d.audit.Load().w.flush()
	data, err := os.ReadFile(o.audit)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(sourceCases) {
		t.Fatalf("%d audit lines for %d queries:\n%s", len(lines), len(sourceCases), data)
	}
	for i, c := range sourceCases {
		var l auditLine
		if err := json.Unmarshal([]byte(lines[i]), &l); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if l.Key != c.key || string(l.Source) != c.source || l.Answer != c.answer || l.Profile != c.profile || len(l.Reasons) == 0 || l.Time.IsZero() {
			t.Errorf("line %d = %+v; want key %s source %s answer %q", i, l, c.key, c.source, c.answer)
		}
		if c.source == "report-only" && (l.Would == nil || l.Would.Source != "mta-sts" || !strings.HasPrefix(l.Would.Reply, "OK secure")) {
			t.Errorf("report-only line lacks what it would have answered: %+v", l.Would)
		}
	}
}

// hash_domains: names, host attributes and reasons stay out of the log; a name becomes
// "hmac:" and the first 16 bytes of its HMAC-SHA256 under hash_key in hex, so equal
// domains hash equally under one key, and another key gives another hash.
func TestAuditHashed(t *testing.T) {
	const key, otherKey = "0123456789abcdef-secret", "0123456789abcdef-other"
	d := &policy.Decision{Key: "[mx.secret.example]:25", Domain: "mx.secret.example", Profile: "postfix", Source: policy.SourceMTASTS}
	d.SetReasons([]string{"TXT _mta-sts.mx.secret.example ..."})
	write := func(hashKey string, n int) []auditLine {
		t.Helper()
		path := filepath.Join(t.TempDir(), "audit.log")
		a, err := openAudit(config.Audit{File: path, HashDomains: true, HashKey: hashKey}, func(int, error) {})
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := a.record(d, "OK secure match=mx.secret.example servername=hostname", time.Now(), time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		a.close(nil)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "secret.example") {
			t.Fatalf("hashed audit log names the domain:\n%s", data)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != n {
			t.Fatalf("%d lines, want %d:\n%s", len(lines), n, data)
		}
		out := make([]auditLine, n)
		for i, line := range lines {
			if err := json.Unmarshal([]byte(line), &out[i]); err != nil {
				t.Fatalf("line %d: %v: %s", i, err, line)
			}
		}
		return out
	}
	mac := func(k, s string) string {
		m := hmac.New(sha256.New, []byte(k))
		m.Write([]byte(s))
		return "hmac:" + hex.EncodeToString(m.Sum(nil)[:16])
	}

	ls := write(key, 2)
	l1, l2 := ls[0], ls[1]
	if !l1.Hashed || l1.Answer != "OK secure" || len(l1.Reasons) != 0 {
		t.Errorf("hashed line = %+v, want hashed, the level alone, no reasons", l1)
	}
	if want := mac(key, "mx.secret.example"); l1.Domain != want {
		t.Errorf("domain %q, want %q", l1.Domain, want)
	}
	if want := mac(key, "[mx.secret.example]:25"); l1.Key != want {
		t.Errorf("key %q, want %q", l1.Key, want)
	}
	if l2.Domain != l1.Domain || l2.Key != l1.Key {
		t.Errorf("the same domain hashed differently under one key: %q/%q, %q/%q", l1.Domain, l2.Domain, l1.Key, l2.Key)
	}
	other := write(otherKey, 1)[0]
	if other.Domain == l1.Domain || !strings.HasPrefix(other.Domain, "hmac:") || len(other.Domain) != len(l1.Domain) {
		t.Errorf("another hash_key: domain %q, want a different hmac: than %q", other.Domain, l1.Domain)
	}
}
