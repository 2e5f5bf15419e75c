package policy

import (
	"sync"
	"testing"
)

type recObserver struct {
	mu  sync.Mutex
	got []string
}

func (r *recObserver) STSFetchFailed(domain, resultType, _ string) {
	r.mu.Lock()
	r.got = append(r.got, domain+" "+resultType)
	r.mu.Unlock()
}

// TestSTSObserverSeesFetchFailures: the observer hears of each failed policy fetch with
// its domain and RFC 8460 result type, and of nothing else.
func TestSTSObserverSeesFetchFailures(t *testing.T) {
	h := newHarness(t, nil)
	obs := &recObserver{}
	h.eng.opt.STSObserver = obs
	h.sts("good.example", "1", policyText("enforce", 600, "mx.good.example"))
	h.sts("invalid.example", "1", "version: STSv9\r\n")
	h.setTXT("down.example", "v=STSv1; id=1;")
	h.fetch.setDown("down.example", true)
	for _, d := range []string{"good.example", "invalid.example", "down.example"} {
		h.resolve(plain, d)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := map[string]bool{"invalid.example sts-policy-invalid": true, "down.example sts-policy-fetch-error": true}
	if len(obs.got) != 2 || !want[obs.got[0]] || !want[obs.got[1]] {
		t.Fatalf("observed %q", obs.got)
	}
}
