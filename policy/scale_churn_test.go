package policy

import (
	"testing"
	"time"
)

// scaleChurn keeps the scale daemon under cached traffic for dur — every domain asked
// again, pass after pass — and logs its memory after each pass: the long-run steady
// state, in which what the traffic allocates (a request's copy, connection buffers)
// lets the heap grow to its goal before each collection. It returns the highest VmRSS
// seen after a pass and the daemon's VmHWM at the end.
func scaleChurn(t *testing.T, d *scaleDaemon, n int, dur time.Duration) (maxRSS, hwm int64) {
	t.Helper()
	end := time.Now().Add(dur)
	for pass := 1; time.Now().Before(end); pass++ {
		took, err := queryAll(d.addr, n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := scrapeMetrics("http://" + d.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		mem, err := readProcMem(d.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		maxRSS, hwm = max(maxRSS, mem.RSS), mem.HWM
		t.Logf("churn pass %d (%s): VmRSS %.1f MB, VmHWM %.1f MB; Go heap in use %.1f MB, heap goal %.1f MB, GC percentage %v, %v GCs",
			pass, took.Round(time.Millisecond), mb(mem.RSS), mb(mem.HWM),
			mb(int64(m["go_memstats_heap_inuse_bytes"])), mb(int64(m["go_memstats_next_gc_bytes"])), m["go_gc_gogc_percent"], m["go_gc_duration_seconds_count"])
	}
	return maxRSS, hwm
}
