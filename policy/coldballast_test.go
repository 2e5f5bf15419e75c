package policy

import (
	"os"
	"strconv"
	"testing"
)

// ballastNode is one node of coldBallast: about 64 bytes with two pointers, like the
// entries of a large hot store, so that the collector has to trace it.
type ballastNode struct {
	next, other *ballastNode
	name        string
	pad         [4]uint64
}

// coldBallast returns a pointer-rich structure of about MAILTLS_COLD_BALLAST_MB
// megabytes (nil when unset): BenchmarkColdPath then answers with a heap the size of a
// large hot store, which the collector marks on every cycle. Run with GOGC set to compare
// the collector's pacings, e.g. GOGC=100 (Go's) against GOGC=30 (what cache.gc_headroom's
// 64 MiB gives for a ~220 MB live heap).
func coldBallast(tb testing.TB) []*ballastNode {
	s := os.Getenv("MAILTLS_COLD_BALLAST_MB")
	if s == "" {
		return nil
	}
	mb, err := strconv.Atoi(s)
	if err != nil || mb <= 0 {
		tb.Fatalf("MAILTLS_COLD_BALLAST_MB=%q: want a positive number of megabytes", s)
	}
	n := mb << 20 / 64
	nodes := make([]*ballastNode, n)
	for i := range nodes {
		nodes[i] = &ballastNode{name: strconv.Itoa(i)}
		if i > 0 {
			nodes[i].next = nodes[i-1]
			nodes[i].other = nodes[i/2]
		}
	}
	return nodes
}
