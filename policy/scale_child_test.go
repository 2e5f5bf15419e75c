package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/internal/testenv"
)

// The in-process half of the scale measurement: the test binary re-executes itself to open
// the store and Load it into a fresh engine, in a process whose memory holds nothing else,
// and reports the phases' times and the heap after a GC (which the daemon's metrics cannot
// give). With MAILTLS_SCALE_PROFILE=DIR it writes cpu.pprof (Open + Load) and heap.pprof.

// scaleChildEnv carries the store path to the child; its presence selects the child role.
const scaleChildEnv = "MAILTLS_SCALE_CHILD_STORE"

// scaleChildMarker starts the child's result line on stdout.
const scaleChildMarker = "SCALE-CHILD "

type scaleChildResult struct {
	Open, Load time.Duration
	CPU        time.Duration // user + system, Open and Load
	Loaded     int
	HeapInuse  int64 // after runtime.GC
	RSS, HWM   int64
	// After every domain was resolved once (steady state) and runtime.GC.
	SteadyHeapInuse, SteadyRSS int64
}

func runScaleChild(t *testing.T, path string, n int) scaleChildResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), scaleChildEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, line, ok := bytes.Cut(out, []byte(scaleChildMarker))
	if !ok {
		t.Fatalf("child printed no result:\n%s", out)
	}
	line, _, _ = bytes.Cut(line, []byte("\n"))
	var r scaleChildResult
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("child result %q: %v", line, err)
	}
	if r.Loaded != n {
		t.Errorf("in-process Load loaded %d entries, want %d", r.Loaded, n)
	}
	return r
}

// TestScaleChild is the child process of TestScaleWarmRestart, not a test of its own.
func TestScaleChild(t *testing.T) {
	path := testenv.OptIn(t, scaleChildEnv, "helper process of TestScaleWarmRestart, which sets "+scaleChildEnv)
	prof := os.Getenv("MAILTLS_SCALE_PROFILE")
	if prof != "" {
		f, err := os.Create(filepath.Join(prof, "cpu.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
	}
	var r scaleChildResult
	start := time.Now()
	store, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r.Open = time.Since(start)
	eng := scaleEngine(t, store, 2000000)
	start = time.Now()
	if r.Loaded, err = eng.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Load = time.Since(start)
	if cpu, err := readProcCPU(os.Getpid()); err == nil {
		r.CPU = cpu
	}
	if prof != "" {
		pprof.StopCPUProfile()
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse = int64(ms.HeapInuse)
	mem, err := readProcMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	r.RSS, r.HWM = mem.RSS, mem.HWM
	if prof != "" {
		f, err := os.Create(filepath.Join(prof, "heap.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
	}
	// Steady state: every loaded domain resolved once, as traffic would.
	var d Decision
	p := &Profile{Name: "postfix", DANE: true}
	for i := range r.Loaded {
		eng.ResolveInto(context.Background(), p, scaleDomain(i), &d)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	r.SteadyHeapInuse = int64(ms.HeapInuse)
	if mem, err = readProcMem(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	r.SteadyRSS = mem.RSS
	runtime.KeepAlive(eng)
	b, _ := json.Marshal(r)
	os.Stdout.Write(append([]byte(scaleChildMarker), append(b, '\n')...))
}
