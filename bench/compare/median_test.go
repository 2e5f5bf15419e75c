package compare

import (
	"slices"
	"testing"
)

// median is the round with the median rate (the lower one of an even count) among the
// rounds of one point, every figure from that one run, with the spread of all rounds'
// rates: (max − min) / median.
func median(rounds []row) row {
	sorted := slices.Clone(rounds)
	slices.SortFunc(sorted, func(a, b row) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	m := sorted[(len(sorted)-1)/2]
	m.rounds = len(sorted)
	if m.rate > 0 {
		m.spread = (sorted[len(sorted)-1].rate - sorted[0].rate) / m.rate
	}
	return m
}

func TestMedian(t *testing.T) {
	m := median([]row{{rate: 300, labQ: 3}, {rate: 100, labQ: 1}, {rate: 200, labQ: 2}})
	if m.rate != 200 || m.labQ != 2 || m.rounds != 3 || m.spread != 1 {
		t.Errorf("median = %+v", m)
	}
	if m := median([]row{{rate: 100}, {rate: 200}}); m.rate != 100 || m.spread != 1 {
		t.Errorf("median of two = %+v, want the lower", m)
	}
}
