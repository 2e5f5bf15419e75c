package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
)

// Issue 7: a state directory that is read-only, full from the start, or fills up while
// running never stops answers: the daemon serves from memory and says so in its log and
// on /healthz. Each daemon runs in a private mount namespace (unshare -m) whose state
// directory is a tiny tmpfs, so the test does not touch the machine's mounts.
func TestStateDirFaults(t *testing.T) {
	testenv.Root(t, "mounts a tmpfs in a private mount namespace")
	unshare := testenv.LookPath(t, "unshare", "Debian package util-linux")
	l := lab.New(t)
	const n = 400
	for i := range n {
		d := fmt.Sprintf("s%d.example", i)
		l.STS(d, "1", lab.Policy("enforce", 86400, "mx."+d))
	}
	bin := buildBinary(t)
	tests := []struct {
		name, mount, logWant string
	}{
		{"read-only", "mount -t tmpfs -o size=1m tmpfs $S && mount -o remount,ro $S", "serving from memory only"},
		{"full from the start", "mount -t tmpfs -o size=4k tmpfs $S && (dd if=/dev/zero of=$S/fill bs=1k count=64 2>/dev/null; true)", "serving from memory only"},
		{"fills while running", "mount -t tmpfs -o size=160k tmpfs $S", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			os.MkdirAll(state, 0o700)
			addr, metrics := lab.FreeAddr(t), lab.FreeAddr(t)
			cfg := writeConfig(t, dir, l.Config("", addr, state)+fmt.Sprintf("metrics: {listen: %q}\n", metrics))
			script := strings.ReplaceAll(tt.mount, "$S", state) + " && exec " + bin + " serve -config " + cfg
			p := startProc(t, addr, unshare, "-m", "--propagation", "private", "sh", "-c", script)

			for i := range n {
				want := fmt.Sprintf("OK secure match=mx.s%d.example servername=hostname", i)
				if got := lab.Query(t, addr, "postfix", fmt.Sprintf("s%d.example", i)); got != want {
					t.Fatalf("s%d.example: %q, want %q", i, got, want)
				}
			}
			// Health turns 503 once the store fails (at start, or at a write-behind flush).
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp, err := http.Get("http://" + metrics + "/healthz")
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "serving from memory") {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("/healthz never reported the failing store\n%s", p.logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if tt.logWant != "" && !strings.Contains(p.logs.String(), tt.logWant) {
				t.Errorf("log does not say %q:\n%s", tt.logWant, p.logs)
			}
			// Still answering from memory.
			if got := lab.Query(t, addr, "postfix", "s0.example"); !strings.HasPrefix(got, "OK secure") {
				t.Errorf("after the store failed: %q", got)
			}
		})
	}
}
