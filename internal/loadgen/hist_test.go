package loadgen

import (
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 63, 64, 65, 127, 128, 1000, 12345, time.Millisecond, 3 * time.Second, time.Hour} {
		i := bucket(d)
		lo, next := lowerBound(i), lowerBound(i+1)
		if d < lo || d >= next {
			t.Errorf("%v: bucket %d covers [%v, %v)", d, i, lo, next)
		}
		if d >= 1<<subBits && float64(next-lo)/float64(lo) > 1.0/(1<<subBits)+1e-9 {
			t.Errorf("%v: bucket width %v is over 1/%d of %v", d, next-lo, 1<<subBits, lo)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	near := func(got, want time.Duration) bool {
		return got <= want && float64(want-got) <= float64(want)/(1<<subBits)
	}
	if got := h.quantile(0.5); !near(got, 500*time.Microsecond) {
		t.Errorf("p50 = %v, want about 500µs", got)
	}
	if got := h.quantile(0.99); !near(got, 990*time.Microsecond) {
		t.Errorf("p99 = %v, want about 990µs", got)
	}
	if got := h.quantile(1); !near(got, time.Millisecond) || h.max != time.Millisecond {
		t.Errorf("p100 = %v, max = %v, want 1ms", got, h.max)
	}
	var m histogram
	m.record(5 * time.Second)
	m.merge(&h)
	if m.n != 1001 || m.max != 5*time.Second {
		t.Errorf("merged n=%d max=%v", m.n, m.max)
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
}
