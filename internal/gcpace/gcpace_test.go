package gcpace

import (
	"context"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		headroom int64
		min      int
		live     uint64
		want     int
	}{
		{"unknown live heap: Go's default", 64 * mib, 0, 0, 100},
		{"small heap: never looser than Go's default", 64 * mib, 0, 16 * mib, 100},
		{"headroom equal to the live heap", 64 * mib, 0, 64 * mib, 100},
		{"twice the headroom", 64 * mib, 0, 128 * mib, 50},
		{"a million cached policies (255 MB live)", 64 * mib, 0, 255_000_000, 27},
		{"rounded up, never below the headroom", 64 * mib, 0, 3 * 64 * mib, 34},
		{"huge heap: the floor", 64 * mib, 0, 1024 * mib, DefaultMinPercent},
		{"huge heap, own floor", 64 * mib, 10, 1024 * mib, 10},
		{"no headroom: Go's default", 0, 0, 1024 * mib, 100},
		{"headroom beyond any heap: Go's default, no overflow", 1 << 62, 0, 1024 * mib, 100},
	} {
		p := &Pacer{Headroom: tc.headroom, MinPercent: tc.min}
		if got := p.Percent(tc.live); got != tc.want {
			t.Errorf("%s: Percent(%d) with headroom %d = %d, want %d", tc.name, tc.live, tc.headroom, got, tc.want)
		}
	}
}

// fakeRuntime records the percentages set and serves a live heap the test chooses.
type fakeRuntime struct {
	mu   sync.Mutex
	live uint64
	pct  int
	sets []int
}

func (f *fakeRuntime) pacer(headroom int64) *Pacer {
	f.pct = 100
	return &Pacer{Headroom: headroom,
		readLive: func() uint64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.live
		},
		set: func(p int) int {
			f.mu.Lock()
			defer f.mu.Unlock()
			old := f.pct
			f.pct, f.sets = p, append(f.sets, p)
			return old
		}}
}

func (f *fakeRuntime) percent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pct
}

// Adjust follows the live heap and sets the percentage only when it changes.
func TestAdjustSetsOnChange(t *testing.T) {
	f := &fakeRuntime{live: 256 << 20}
	p := f.pacer(64 << 20)
	for _, step := range []struct {
		live uint64
		want int
	}{{256 << 20, 25}, {256 << 20, 25}, {128 << 20, 50}, {8 << 20, 100}, {8 << 20, 100}} {
		f.live = step.live
		if got := p.Adjust(); got != step.want {
			t.Fatalf("Adjust at live %d MiB = %d, want %d", step.live>>20, got, step.want)
		}
	}
	if want := []int{25, 50, 100}; !slices.Equal(f.sets, want) {
		t.Errorf("percentages set: %v, want %v (one call per change)", f.sets, want)
	}
}

// Run paces at once, again when kicked, and restores the percentage it found when its
// context ends.
func TestRunRestores(t *testing.T) {
	f := &fakeRuntime{live: 512 << 20}
	p := f.pacer(64 << 20)
	f.pct = 80 // what the process ran with before (nothing else runs yet)
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{})
	done := make(chan struct{})
	go func() {
		p.Run(ctx, time.Hour, kick)
		close(done)
	}()
	// Run's first Adjust happens before it waits on its ticker; poll for it.
	deadline := time.Now().Add(10 * time.Second)
	for f.percent() != 25 {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not set 25 %% for 512 MiB live and 64 MiB headroom: %d", f.percent())
		}
		time.Sleep(time.Millisecond)
	}
	// A kick adjusts at once, long before the hour's tick.
	f.mu.Lock()
	f.live = 128 << 20
	f.mu.Unlock()
	kick <- struct{}{}
	for f.percent() != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("a kick did not adjust to 50 %% for 128 MiB live: %d", f.percent())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := f.percent(); got != 80 {
		t.Errorf("after Run: percentage %d, want the 80 it found", got)
	}
}

// With the real runtime: the pacer reads the live heap the runtime reports and sets
// the process's GC percentage from it.
func TestRealRuntime(t *testing.T) {
	keep := make([][]byte, 32)
	for i := range keep {
		keep[i] = make([]byte, 1<<20) // 32 MiB live
	}
	runtime.GC()
	p := New(4 << 20) // 4 MiB headroom: 12.5 %, so the floor
	p.MinPercent = 20
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if got := p.Adjust(); got != 20 {
		t.Fatalf("Adjust with 32 MiB live and 4 MiB headroom = %d, want the floor 20", got)
	}
	if got := debug.SetGCPercent(100); got != 20 {
		t.Errorf("the process's GC percentage after Adjust: %d, want 20", got)
	}
	runtime.KeepAlive(keep)
}
