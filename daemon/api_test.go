package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
)

// Issue 18: the readsocket listener answers each source's next-hop with the socketmap's
// decision (same result, level and source), and each answer is written to the audit log
// like a socketmap answer.
func TestReadsocketSameDecision(t *testing.T) {
	rs := lab.FreeAddr(t)
	o := startOpsLab(t, fmt.Sprintf("api: {readsocket: [{tcp: %q}]}\n", rs))
	for _, c := range sourceCases {
		sm := lab.Query(t, o.addr, c.profile, c.key)
		before := len(o.readAudit(t))
		conn, err := net.DialTimeout("tcp", rs, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "%s %s\n", c.profile, c.key)
		conn.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		line := string(b)
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("%s: not one line: %q", c.key, line)
		}
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		result, level, _ := strings.Cut(strings.TrimSpace(sm), " ")
		level, _, _ = strings.Cut(level, " ")
		if f["result"] != result || f["level"] != level || f["source"] != c.source {
			t.Errorf("%s/%s: readsocket %q, socketmap %q (source %s)", c.profile, c.key, line, sm, c.source)
		}
		if after := o.readAudit(t); len(after) != before+1 || after[before]["key"] != c.key {
			t.Errorf("%s: audit log went from %d to %d lines", c.key, before, len(after))
		}
	}
}

// readAudit writes the audit lines that wait (auditWriter) and reads them all.
func (o *opsLab) readAudit(t *testing.T) []map[string]any {
	o.d.audit.Load().w.flush()
	return readAudit(t, o.audit)
}

func readAudit(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
