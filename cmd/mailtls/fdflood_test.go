package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
)

// Issue 11: thousands of idle connections to the metrics listener (half of them
// keep-alive after a request, half silent) must not take the file descriptors the
// socketmap needs. The daemon runs with an open-file limit of 400 (prlimit) and 2,000
// such connections: the socketmap keeps answering new connections, and the daemon holds
// fewer descriptors than its limit.
func TestMetricsFloodKeepsSocketmap(t *testing.T) {
	prlimit := testenv.LookPath(t, "prlimit", "Debian package util-linux")
	dns := dnstest.New(t)
	dns.Add(lab.CheckSigned+" 300 IN A 127.0.0.1", lab.CheckBogus+" 300 IN A 127.0.0.1", "plain.example. 300 IN A 192.0.2.1")
	dns.SetMode(lab.CheckBogus, 0, dnstest.Bogus)
	dir := t.TempDir()
	addr, metrics := lab.FreeAddr(t), lab.FreeAddr(t)
	cfg := writeConfig(t, dir, fmt.Sprintf(`state_dir: %s
resolver: {servers: ["%s"], timeout: 500ms}
dane: {check_signed: "%s", check_bogus: "%s"}
cache: {store: none}
listen: {socketmap: [{tcp: "%s"}], max_connections: 64}
metrics: {listen: "%s"}
`, filepath.Join(dir, "state"), dns.Addr, lab.CheckSigned, lab.CheckBogus, addr, metrics))
	const nofile, flood = 400, 2000
	p := startProc(t, addr, prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), buildBinary(t), "serve", "-config", cfg)

	opened := 0
	for i := range flood {
		c, err := net.DialTimeout("tcp", metrics, time.Second)
		if err != nil {
			continue // the listen queue is full: that costs the daemon nothing either
		}
		defer c.Close()
		opened++
		if i%2 == 0 {
			io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: mailtls\r\n\r\n")
		}
	}
	if opened < flood/2 {
		t.Fatalf("only %d of %d flood connections opened", opened, flood)
	}
	for i := range 50 {
		if got := lab.Query(t, addr, "postfix", "plain.example"); got != "NOTFOUND " {
			t.Fatalf("query %d during the flood: %q", i, got)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) >= nofile-64 {
		t.Errorf("daemon holds %d descriptors of %d during the flood", len(fds), nofile)
	}
	if !strings.Contains(p.logs.String(), "file descriptors") || !strings.Contains(p.logs.String(), fmt.Sprintf("limit=%d", nofile)) {
		t.Errorf("the log does not report the open-file limit:\n%s", p.logs)
	}
	t.Logf("%d flood connections open; daemon holds %d descriptors (limit %d); 50 socketmap queries answered", opened, len(fds), nofile)
}
