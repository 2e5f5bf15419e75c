package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/policy"
)

// Issue 2 CLI: query (text and JSON) and cache list/show/purge through the running
// daemon's control socket, then against the store with no daemon.
func TestCLIAgainstDaemon(t *testing.T) {
	l := lab.New(t)
	l.STS("example.com", "7", lab.Policy("enforce", 86400, "mx.example.com"))
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := lab.FreeAddr(t)
	cfg := writeConfig(t, dir, l.Config("", addr, dir))
	p := startDaemon(t, bin, cfg, addr)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "-config", cfg)...).CombinedOutput()
		if err != nil {
			t.Fatalf("mailtls %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	out := run("query", "example.com")
	for _, want := range []string{"answered by the running daemon", "reply:   OK secure match=mx.example.com servername=hostname", "source:  mta-sts", "id 7"} {
		if !strings.Contains(out, want) {
			t.Errorf("query output lacks %q:\n%s", want, out)
		}
	}
	var resp daemon.QueryResponse
	if err := json.Unmarshal([]byte(run("query", "example.com", "-json", "-profile", "postfix-tlsrpt")), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Decision.Source != policy.SourceMTASTS || !resp.Decision.CacheHit || !strings.Contains(resp.Reply, "policy_type=sts") {
		t.Errorf("query -json: %+v", resp)
	}
	// One row per domain: state, mode and id of what the daemon holds.
	row := regexp.MustCompile(`(?m)^example\.com +policy +enforce +7 +\d{4}-\d\d-\d\dT\S+Z +`)
	if out := run("cache", "list"); !row.MatchString(out) || !strings.HasSuffix(out, "\n1 domains\n") {
		t.Errorf("cache list: want the row of example.com (policy, enforce, id 7) and \"1 domains\":\n%s", out)
	}
	if out := run("cache", "show", "example.com"); !strings.Contains(out, `"policy_id": "7"`) ||
		!regexp.MustCompile(`"txt_ttl": "[0-9hms.]+"`).MatchString(out) {
		t.Errorf("cache show (want the policy id, and txt_ttl as a duration string):\n%s", out)
	}
	if out := run("cache", "purge", "example.com"); out != "purged 1 domains\n" {
		t.Errorf("cache purge:\n%s", out)
	}
	if out := run("cache", "list"); strings.Contains(out, "example.com") || !strings.HasSuffix(out, "\n0 domains\n") {
		t.Errorf("purged domain still listed:\n%s", out)
	}

	// With the daemon gone, query resolves in-process and cache works on the store file.
	lab.Query(t, addr, "postfix", "example.com") // cache it again
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	if out := run("query", "example.com"); !strings.HasPrefix(out, "example.com  (profile postfix, resolved in this process") ||
		!strings.Contains(out, "\n  reply:   OK secure match=mx.example.com servername=hostname\n  source:  mta-sts\n") {
		t.Errorf("query without daemon:\n%s", out)
	}
	if out := run("cache", "list"); !strings.Contains(out, "(no daemon running: reading the store "+filepath.Join(dir, "cache.db")+" directly)") ||
		!row.MatchString(out) || !strings.HasSuffix(out, "\n1 domains\n") {
		t.Errorf("cache list from the store file: want the note, the row of example.com and \"1 domains\":\n%s", out)
	}
}
