package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
			waitReady(t, metrics)
			if tt.logWant == "" { // the store works at first, and says so
				if v := scrape(t, metrics)["mailtls_store_healthy"]; v != 1 {
					t.Fatalf("mailtls_store_healthy = %v at start, want 1", v)
				}
			}

			for i := range n {
				want := fmt.Sprintf("OK secure match=mx.s%d.example servername=hostname", i)
				if got := lab.Query(t, addr, "postfix", fmt.Sprintf("s%d.example", i)); got != want {
					t.Fatalf("s%d.example: %q, want %q", i, got, want)
				}
			}
			// Issue 11: the store itself reports its failure (at start, or at a write-behind
			// flush): mailtls_store_healthy drops to 0 before anyone asks /healthz.
			deadline := time.Now().Add(10 * time.Second)
			for scrape(t, metrics)["mailtls_store_healthy"] != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("mailtls_store_healthy never reported the failing store\n%s", p.logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			// Health turns 503 too.
			deadline = time.Now().Add(10 * time.Second)
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

// Issue 11: a state directory that is read-only at start but holds a store from an
// earlier run is served from, read-only, instead of being discarded: with the network
// gone (a dead resolver, the policy hosts stopped), every known domain keeps its policy.
// The health endpoint and mailtls_store_healthy say the store is degraded. The earlier
// run ends cleanly (SIGTERM) or is killed (SIGKILL, its last writes still in the WAL).
func TestReadOnlyStateDirServesStore(t *testing.T) {
	testenv.Root(t, "remounts the state directory read-only in a private mount namespace")
	unshare := testenv.LookPath(t, "unshare", "Debian package util-linux")
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(stop.String(), func(t *testing.T) {
			l := lab.New(t)
			const n = 50
			for i := range n {
				d := fmt.Sprintf("s%d.example", i)
				l.STS(d, "1", lab.Policy("enforce", 86400, "mx."+d))
			}
			bin := buildBinary(t)
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			addr := lab.FreeAddr(t)
			p := startDaemon(t, bin, writeConfig(t, dir, l.Config("", addr, state)), addr)
			for i := range n {
				lab.Query(t, addr, "postfix", fmt.Sprintf("s%d.example", i))
			}
			time.Sleep(2500 * time.Millisecond) // write-behind: flushed every second
			p.cmd.Process.Signal(stop)
			p.cmd.Wait()

			l.Stop()
			addr2, metrics := lab.FreeAddr(t), lab.FreeAddr(t)
			cfg := writeConfig(t, dir, l.Config(lab.FreeAddr(t), addr2, state)+fmt.Sprintf("metrics: {listen: %q}\n", metrics))
			script := fmt.Sprintf("mount --bind %[1]s %[1]s && mount -o remount,ro,bind %[1]s && exec %[2]s serve -config %[3]s", state, bin, cfg)
			p2 := startProc(t, addr2, unshare, "-m", "--propagation", "private", "sh", "-c", script)
			for i := range n {
				want := fmt.Sprintf("OK secure match=mx.s%d.example servername=hostname", i)
				if got := lab.Query(t, addr2, "postfix", fmt.Sprintf("s%d.example", i)); got != want {
					t.Fatalf("s%d.example from the read-only store: %q, want %q\n%s", i, got, want, p2.logs)
				}
			}
			waitReady(t, metrics)
			if !strings.Contains(p2.logs.String(), "opened read-only") {
				t.Errorf("the log does not say the store is read-only:\n%s", p2.logs)
			}
			resp, err := http.Get("http://" + metrics + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "read-only") {
				t.Errorf("/healthz: %d %q", resp.StatusCode, body)
			}
			if v := scrape(t, metrics)["mailtls_store_healthy"]; v != 0 {
				t.Errorf("mailtls_store_healthy = %v, want 0", v)
			}
		})
	}
}

// waitReady waits until the daemon's /readyz on the metrics address answers.
func waitReady(t *testing.T, metrics string) {
	t.Helper()
	waitFor(t, "/readyz on "+metrics, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}
