package policy

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// coldSamples are the per-iteration timings of BenchmarkColdPath: engine answer and floor
// of the same iteration side by side, so that a moment of load elsewhere on the machine
// weighs on one pair, not on the whole figure.
type coldSamples struct {
	eng, floor []time.Duration
}

func (s *coldSamples) add(eng, floor time.Duration) {
	s.eng = append(s.eng, eng)
	s.floor = append(s.floor, floor)
}

// coldWarmup is how many of n iterations are discarded before the statistics: the first
// tenth, at most 30 (the first answers grow the lab's and the engine's maps, open the
// store's statements, fault pages in).
func coldWarmup(n int) int { return min(n/10, 30) }

// coldStats are what BenchmarkColdPath reports from the samples kept after warm-up.
type coldStats struct {
	engMed, engP90     float64 // engine answer, ms
	floorMed, floorP90 float64 // floor, ms
	engMean, floorMean float64 // means of the engine answers and of the floors, ms
	pairMed, pairP90   float64 // engine/floor of each iteration: median and 90th percentile
}

func (s *coldSamples) stats() coldStats {
	w := coldWarmup(len(s.eng))
	eng, floor := s.eng[w:], s.floor[w:]
	ratios := make([]float64, len(eng))
	for i := range eng {
		ratios[i] = float64(eng[i]) / float64(floor[i])
	}
	ms := func(ds []time.Duration) []float64 {
		out := make([]float64, len(ds))
		for i, d := range ds {
			out[i] = float64(d) / float64(time.Millisecond)
		}
		return out
	}
	e, f := ms(eng), ms(floor)
	return coldStats{
		engMean: mean(e), floorMean: mean(f),
		engMed: quantile(e, 0.5), engP90: quantile(e, 0.9),
		floorMed: quantile(f, 0.5), floorP90: quantile(f, 0.9),
		pairMed: quantile(ratios, 0.5), pairP90: quantile(ratios, 0.9),
	}
}

// mean returns the arithmetic mean of xs, 0 for none.
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// quantile returns the q-quantile of xs (nearest rank on the sorted values; the median
// of an even count is the mean of the two middle values). xs is sorted in place.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if q == 0.5 && len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// loadAverage returns the machine's 1-minute load average (/proc/loadavg), or -1 where it
// cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
