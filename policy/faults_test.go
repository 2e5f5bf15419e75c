package policy

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// Issue 7: under DNS and policy-host faults, a cached, unexpired enforce policy is never
// answered as NOTFOUND — whether the fault hits the TXT re-read or the refetch of a new id.
func TestFaultsKeepCachedEnforce(t *testing.T) {
	want := "OK secure match=mx.example.com servername=hostname"
	tests := []struct {
		name  string
		fault func(h *harness)
	}{
		{"DNS times out", func(h *harness) { h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Timeout) }},
		{"DNS SERVFAIL (bogus)", func(h *harness) { h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Bogus) }},
		{"DNS refuses", func(h *harness) { h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Refused) }},
		{"DNS answers garbage", func(h *harness) {
			h.dns.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
				w.Write([]byte{0xde, 0xad, 0xbe, 0xef, 0x00})
				return true
			})
		}},
		{"DNS slow beyond the timeout", func(h *harness) { h.dns.SetDelay(time.Second) }},
		{"record removed", func(h *harness) { h.setTXT("example.com") }},
		{"two records", func(h *harness) { h.setTXT("example.com", "v=STSv1; id=2;", "v=STSv1; id=3;") }},
		{"new id, policy host down", func(h *harness) {
			h.setTXT("example.com", "v=STSv1; id=2;")
			h.fetch.setDown("example.com", true)
		}},
		{"new id, policy host stalls past the bound on a refresh (fetch timeout + slack)", func(h *harness) {
			h.setTXT("example.com", "v=STSv1; id=2;")
			h.fetch.delay = harnessFetchTimeout + refreshSlack + 3*time.Second
		}},
		{"new id, invalid policy served", func(h *harness) {
			h.setTXT("example.com", "v=STSv1; id=2;")
			h.fetch.set("example.com", "version: STSv1\nmode: enforce\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has its own harness; the stall takes 3 × 7 s of real time
			h := newHarness(t, nil)
			h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
			if d := h.resolve(plain, "example.com"); d.PostfixReply() != want {
				t.Fatalf("setup: %q", d.PostfixReply())
			}
			tt.fault(h)
			// Past the TXT TTL, so the next lookups go to the network and meet the fault.
			for range 3 {
				h.clock.Advance(301 * time.Second)
				if d := h.resolve(plain, "example.com"); d.PostfixReply() != want {
					t.Fatalf("under the fault: %q, want the cached enforce policy\n%q", d.PostfixReply(), d.Reasons())
				}
			}
			h.eng.RefreshDue(t.Context())
			if d := h.resolve(plain, "example.com"); d.PostfixReply() != want {
				t.Errorf("after a background refresh under the fault: %q", d.PostfixReply())
			}
			if h.fetch.delay > 0 {
				checkStalledFetch(t, h)
			}
		})
	}
}

// checkStalledFetch asserts that the stalled policy host was really asked, and that the
// engine gave up on it when its bound on a refresh passed (FetchTimeout + refreshSlack;
// the real Fetcher also stops at FetchTimeout itself, mtasts.TestFetchStalled): not
// before (it did wait out the bound) and not when the host would have answered.
func checkStalledFetch(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // only bounds a hang
	for len(h.fetch.ended()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no fetch of the stalling policy host ended within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, s := range h.fetch.ended() {
		// The deadline is set just before Fetch starts: allow it that head start.
		bound := harnessFetchTimeout + refreshSlack
		if !s.abandoned || s.waited < bound-100*time.Millisecond || s.waited >= h.fetch.delay {
			t.Errorf("stalled fetch ended after %v (abandoned: %v), want it abandoned at the bound %v, before the host's %v stall ended", s.waited, s.abandoned, bound, h.fetch.delay)
		}
	}
}
