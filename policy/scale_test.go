package policy

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
)

// The scale measurement (issue: 1,000,000 cached policies in ≤ 400 MB RSS, warm restart in
// ≤ 5 s). It generates a store of MAILTLS_SCALE domains (default 5000) through the engine's
// own write path, then starts the real daemon (`mailtls serve`, built from ./cmd/mailtls)
// on it with a dead resolver and times process start → first correct socketmap answer, and
// reads its memory. At the default size it is a correctness test: every entry loads and a
// sample answers from the hot store. Figures are logged (go test -v), never asserted.
//
//	MAILTLS_SCALE=1000000 go test ./policy -run '^TestScaleWarmRestart$' -v -timeout 30m
//
// MAILTLS_SCALE_DIR keeps the store in that directory (default: a temporary one), and
// MAILTLS_SCALE_REUSE=1 reuses a store already there instead of generating it.
// MAILTLS_SCALE_PROFILE=DIR makes the in-process load (scaleChild) write cpu.pprof and
// heap.pprof there. MAILTLS_SCALE_MAX_ENTRIES sets the daemon's cache.max_entries (default
// 2000000): with fewer than the store holds, the rest is answered from disk.
// MAILTLS_SCALE_GC_HEADROOM sets the daemon's cache.gc_headroom (default: the daemon's
// default; 0 = Go's own pacing of the collector). MAILTLS_SCALE_CHURN=DURATION then keeps
// the daemon under cached traffic for that long (scaleChurn) and logs its memory pass by
// pass: the long-run steady state.
func TestScaleWarmRestart(t *testing.T) {
	n := 5000
	if s := os.Getenv("MAILTLS_SCALE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10 {
			t.Fatalf("MAILTLS_SCALE=%q: want a number of domains ≥ 10", s)
		}
		n = v
	}
	dir := os.Getenv("MAILTLS_SCALE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "cache.db")
	if _, err := os.Stat(path); err == nil && os.Getenv("MAILTLS_SCALE_REUSE") == "1" {
		t.Logf("reusing the store %s (generated for MAILTLS_SCALE=%d?)", path, n)
	} else {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
		start := time.Now()
		generateScaleStore(t, path, n)
		t.Logf("generated %d domains (%d policies, %d negative) in %s", n, n-countNegative(n), countNegative(n), time.Since(start).Round(time.Millisecond))
	}
	size := fileSize(path) + fileSize(path+"-wal")
	t.Logf("store %s: %.1f MB (%d bytes/domain)", path, mb(size), size/int64(n))

	bin := buildMailtls(t)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("machine: %d CPUs, load average %s", runtime.NumCPU(), strings.TrimSpace(string(la)))
	}
	maxEntries := 2000000
	if s := os.Getenv("MAILTLS_SCALE_MAX_ENTRIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("MAILTLS_SCALE_MAX_ENTRIES=%q: want a positive number", s)
		}
		maxEntries = v
	}
	gcHeadroom := ""
	if s := os.Getenv("MAILTLS_SCALE_GC_HEADROOM"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			t.Fatalf("MAILTLS_SCALE_GC_HEADROOM=%q: want a number of bytes, 0 for Go's pacing", s)
		}
		gcHeadroom = fmt.Sprintf(", gc_headroom: %d", v)
	}
	d := startScaleDaemon(t, bin, dir, fmt.Sprintf("{max_entries: %d%s}", maxEntries, gcHeadroom))
	t.Logf("warm restart: process start → first answer from the cache in %s (store %s, %d domains)",
		d.ready.Round(time.Millisecond), path, n)
	t.Logf("daemon memory at first answer: VmRSS %.1f MB, VmHWM %.1f MB", mb(d.memReady.RSS), mb(d.memReady.HWM))

	// The daemon loads the hot store in the background (answering from the persistent
	// store meanwhile) and logs when it is done.
	loaded, memLoaded := d.waitLoaded(t)
	t.Logf("hot store filled: %s after process start; VmRSS %.1f MB, VmHWM %.1f MB", loaded.Round(time.Millisecond), mb(memLoaded.RSS), mb(memLoaded.HWM))

	// Every domain is loaded (up to the hot store's bound), and a sample spread over the
	// store answers from the cache.
	if maxEntries >= n && !strings.Contains(d.logs.String(), "domains="+strconv.Itoa(n)+" ") {
		t.Errorf("the daemon did not report loading %d domains:\n%s", n, d.logs)
	}
	sample := scaleSample(n, 500)
	sampleStart := time.Now()
	for _, i := range sample {
		got, err := socketmapQuery(d.addr, "postfix", scaleDomain(i))
		if err != nil {
			t.Fatal(err)
		}
		if want := scaleReply(i); got != want {
			t.Errorf("%s: %q, want %q", scaleDomain(i), got, want)
		}
	}
	t.Logf("%d sample queries, one connection each: %s per query on average",
		len(sample), (time.Since(sampleStart) / time.Duration(len(sample))).Round(time.Microsecond))
	m, err := scrapeMetrics("http://" + d.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	hits, misses := m[`mailtls_cache_lookups_total{result="hit"}`], m[`mailtls_cache_lookups_total{result="miss"}`]
	if misses != 0 || int(hits) != len(sample)+1 {
		t.Errorf("cache lookups: %v hits, %v misses; want %d hits and no miss", hits, misses, len(sample)+1)
	}
	mem, err := readProcMem(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("daemon after %d queries: VmRSS %.1f MB (%d bytes/domain), VmHWM %.1f MB; Go heap in use %.1f MB, heap goal %.1f MB (RSS tends towards it under traffic; live ≈ half at GOGC=100), %v GCs",
		len(sample)+1, mb(mem.RSS), mem.RSS/int64(n), mb(mem.HWM), mb(int64(m["go_memstats_heap_inuse_bytes"])),
		mb(int64(m["go_memstats_next_gc_bytes"])), m["go_gc_duration_seconds_count"])

	// Steady state: every domain asked for once, as under traffic.
	cpu0, _ := readProcCPU(d.cmd.Process.Pid)
	took, err := queryAll(d.addr, n)
	if err != nil {
		t.Fatal(err)
	}
	cpu1, _ := readProcCPU(d.cmd.Process.Pid)
	if m, err = scrapeMetrics("http://" + d.metrics + "/metrics"); err != nil {
		t.Fatal(err)
	}
	if mem, err = readProcMem(d.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	t.Logf("steady state (daemon, every domain asked once, %s, daemon CPU %s): VmRSS %.1f MB (%d bytes/domain), VmHWM %.1f MB; Go heap in use %.1f MB, heap goal %.1f MB, %v GCs",
		took.Round(time.Millisecond), (cpu1 - cpu0).Round(10*time.Millisecond), mb(mem.RSS), mem.RSS/int64(n), mb(mem.HWM),
		mb(int64(m["go_memstats_heap_inuse_bytes"])), mb(int64(m["go_memstats_next_gc_bytes"])), m["go_gc_duration_seconds_count"])

	if s := os.Getenv("MAILTLS_SCALE_CHURN"); s != "" {
		dur, err := time.ParseDuration(s)
		if err != nil || dur <= 0 {
			t.Fatalf("MAILTLS_SCALE_CHURN=%q: want a positive duration", s)
		}
		maxRSS, hwm := scaleChurn(t, d, n, dur)
		t.Logf("long-run steady state (%s of cached traffic): highest VmRSS after a pass %.1f MB (%d bytes/domain), VmHWM %.1f MB",
			dur, mb(maxRSS), maxRSS/int64(n), mb(hwm))
	}

	c := runScaleChild(t, path, n)
	t.Logf("in-process load (test binary, same code as the daemon's): open %s, Load %s, CPU time %s; after GC: HeapInuse %.1f MB (%d bytes/domain), VmRSS %.1f MB, VmHWM %.1f MB",
		c.Open.Round(time.Millisecond), c.Load.Round(time.Millisecond), c.CPU.Round(10*time.Millisecond), mb(c.HeapInuse), c.HeapInuse/int64(n), mb(c.RSS), mb(c.HWM))
	t.Logf("in-process steady state (every domain resolved once): after GC: HeapInuse %.1f MB (%d bytes/domain), VmRSS %.1f MB",
		mb(c.SteadyHeapInuse), c.SteadyHeapInuse/int64(n), mb(c.SteadyRSS))
}

func countNegative(n int) int {
	k := 0
	for i := range n {
		if scaleNegative(i) {
			k++
		}
	}
	return k
}

// scaleSample picks k domain indices spread over [0, n), the first and last included.
func scaleSample(n, k int) []int {
	k = min(k, n)
	out := make([]int, 0, k)
	for j := range k {
		out = append(out, j*(n-1)/max(k-1, 1))
	}
	return out
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// buildMailtls compiles the daemon into a temporary directory.
func buildMailtls(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "mailtls")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/mailtls/mailtls/cmd/mailtls").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// scaleDaemon is a mailtls serve process started on the scale store.
type scaleDaemon struct {
	cmd      *exec.Cmd
	addr     string // socketmap
	metrics  string // /metrics listener
	logs     *lockedBuffer
	start    time.Time
	ready    time.Duration // process start → first correct answer
	memReady procMem       // memory at that moment
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startScaleDaemon runs mailtls serve on the store in dir (cache: the YAML flow mapping
// of its cache settings), with DNS going to a closed
// loopback port (so only the store can answer), and polls the socketmap listener with the
// first domain's query until the correct answer comes back.
func startScaleDaemon(t *testing.T, bin, dir, cache string) *scaleDaemon {
	t.Helper()
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	d := &scaleDaemon{addr: lab.FreeAddr(t), metrics: lab.FreeAddr(t), logs: &lockedBuffer{}}
	cfg := fmt.Sprintf(`state_dir: %s
log: {level: info}
resolver: {servers: ["%s"], timeout: 200ms}
cache: %s
metrics: {listen: "%s"}
listen:
  socketmap: [{tcp: "%s"}]
`, dir, deadAddr, cache, d.metrics, d.addr)
	cfgPath := filepath.Join(t.TempDir(), "mailtls.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "serve", "-config", cfgPath)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	start := time.Now()
	d.start = start
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		d.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-exited
		if t.Failed() || testing.Verbose() {
			t.Logf("daemon log:\n%s", d.logs)
		}
	})
	want := scaleReply(0)
	deadline := start.Add(5 * time.Minute)
	for {
		got, err := socketmapQuery(d.addr, "postfix", scaleDomain(0))
		if err == nil {
			d.ready = time.Since(start)
			if d.memReady, err = readProcMem(d.cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			if cpu, err := readProcCPU(d.cmd.Process.Pid); err == nil {
				t.Logf("daemon CPU time (user+system) at the first answer: %s", cpu.Round(10*time.Millisecond))
			}
			if got != want {
				t.Fatalf("first answer %q, want %q", got, want)
			}
			return d
		}
		select {
		case <-exited:
			t.Fatalf("the daemon exited: %v\n%s", d.cmd.ProcessState, d.logs)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not answer: %v\n%s", err, d.logs)
		}
	}
}

// waitLoaded waits for the daemon's "cache loaded" log line and returns the time since
// process start and the memory then.
func (d *scaleDaemon) waitLoaded(t *testing.T) (time.Duration, procMem) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for !strings.Contains(d.logs.String(), `msg="cache loaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not finish loading:\n%s", d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	at := time.Since(d.start)
	mem, err := readProcMem(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if cpu, err := readProcCPU(d.cmd.Process.Pid); err == nil {
		t.Logf("daemon CPU time (user+system) when the hot store was filled: %s", cpu.Round(10*time.Millisecond))
	}
	return at, mem
}
