package policy

import (
	"context"
	"testing"
)

type waitMark struct{}

// Options.BeforeWait is called once, on the caller's goroutine and with its context, before
// a lookup's first network query; never for an answer from memory or an operator rule.
// (The daemon writes a pipelining socketmap client's earlier replies there.)
func TestBeforeWaitOncePerNetworkLookup(t *testing.T) {
	h := newHarness(t, nil)
	h.sts("cold.example", "1", policyText("enforce", 86400, "mx.cold.example"))
	h.eng.SetOverrides(testOverrides(t))
	var calls, queriesBefore int
	var sawMark bool
	h.eng.opt.BeforeWait = func(ctx context.Context) {
		calls++
		queriesBefore = h.dns.Queries()
		sawMark = ctx.Value(waitMark{}) == "conn"
	}
	ctx := context.WithValue(context.Background(), waitMark{}, "conn")

	var d Decision
	h.eng.ResolveInto(ctx, plain, "cold.example", &d)
	if d.Level != "secure" || d.CacheHit {
		t.Fatalf("cold lookup: %+v", d)
	}
	if calls != 1 || queriesBefore != 0 || !sawMark {
		t.Fatalf("cold lookup: BeforeWait called %d times, after %d DNS queries, caller's context %v; want once, before any query, with it", calls, queriesBefore, sawMark)
	}
	if h.dns.Queries() == 0 {
		t.Fatal("the cold lookup made no DNS query")
	}
	for _, key := range []string{"cold.example", "example.com", "[192.0.2.1]", ".cold.example"} {
		h.eng.ResolveInto(ctx, plain, key, &d)
		if calls != 1 {
			t.Fatalf("%s answered without the network, yet BeforeWait was called (%d calls)", key, calls)
		}
	}
}
