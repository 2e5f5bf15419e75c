package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// Issue 14 item 7: the cache commands without a daemon work on the store and ask the
// resolver nothing: no DNSSEC check, no DANE error line.
func TestCacheWithoutDaemonAsksNoDNS(t *testing.T) {
	dns := dnstest.New(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir: %s\nresolver:\n  servers: [%q]\n", filepath.Join(dir, "state"), dns.Addr))
	for _, args := range [][]string{{"cache", "list"}, {"cache", "purge", "-all"}} {
		var out, errb bytes.Buffer
		if code := run(append(args, "-config", cfg), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
		if strings.Contains(errb.String(), "ERROR") || strings.Contains(errb.String(), "DANE") {
			t.Errorf("%v printed an error line:\n%s", args, errb.String())
		}
	}
	if n := dns.Queries(); n != 0 {
		t.Errorf("the cache commands sent %d DNS queries", n)
	}
}
