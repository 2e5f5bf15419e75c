package loadgen

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's resolution: each power of two of nanoseconds is split into
// 2^subBits linear buckets, so a recorded value is off by less than 1/2^subBits (1.6%).
const subBits = 6

// histogram counts latencies in log-linear buckets: exact below 2^subBits ns, then
// 2^subBits buckets per power of two. It is not safe for concurrent use; each connection
// keeps its own and they are merged at the end.
type histogram struct {
	counts [64 << subBits]uint64
	n      uint64
	max    time.Duration
}

// bucket maps a duration to its bucket index.
func bucket(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 1<<subBits {
		return int(v)
	}
	exp := bits.Len64(v) - 1 // v in [2^exp, 2^(exp+1))
	sub := (v >> (exp - subBits)) & (1<<subBits - 1)
	return (exp-subBits+1)<<subBits | int(sub)
}

// lowerBound is the smallest duration that falls in bucket i.
func lowerBound(i int) time.Duration {
	if i < 1<<subBits {
		return time.Duration(i)
	}
	exp := i>>subBits + subBits - 1
	sub := uint64(i & (1<<subBits - 1))
	return time.Duration(uint64(1)<<exp | sub<<(exp-subBits))
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucket(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the lower bound of the bucket holding the q-th quantile (0 < q ≤ 1),
// never more than the largest value recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(lowerBound(i), h.max)
		}
	}
	return h.max
}
