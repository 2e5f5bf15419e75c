package policy

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// Load shares the policy of domains hosted by one provider, and what it loads equals what
// was stored.
func TestLoadSharesEqualPolicies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	const n = 120
	generateScaleStore(t, path, n)
	store := openStore(t, path)
	eng := scaleEngine(t, store, 0)
	if got, err := eng.Load(context.Background()); err != nil || got != n {
		t.Fatalf("Load = %d, %v; want %d", got, err, n)
	}
	state := func(i int) *stsState {
		en, ok := eng.sts.Get(scaleDomain(i))
		if !ok {
			t.Fatalf("%s not loaded", scaleDomain(i))
		}
		return en
	}
	// 1 and 1+scaleProviders are hosted by one provider; 2 and 6 host their own mail.
	if a, b := state(1), state(1+scaleProviders); a.Policy != b.Policy {
		t.Error("two domains with one provider's policy hold two copies")
	}
	if a, b := state(2), state(6); a.Policy == b.Policy {
		t.Error("two different policies were merged")
	}
	for i := range n {
		ent, ok, err := store.Get(context.Background(), kindSTS, scaleDomain(i))
		if err != nil || !ok {
			t.Fatalf("Get %s: %v, %v", scaleDomain(i), ok, err)
		}
		want, err := decodeState(ent, decodeSTS, func(s *stsRecord) string { return s.Domain })
		if err != nil {
			t.Fatal(err)
		}
		if got := state(i).record(); !reflect.DeepEqual(utcRecord(got), utcRecord(want)) {
			t.Errorf("%s loaded as %+v, stored %+v", scaleDomain(i), got, want)
		}
	}
}

// A state the engine holds when Load runs (published, or read back by a lookup meanwhile)
// is newer than or as new as the stored one: Load leaves it.
func TestLoadKeepsNewerState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	generateScaleStore(t, path, 10)
	store := openStore(t, path)
	eng := scaleEngine(t, store, 0)
	newer := &stsState{Domain: scaleDomain(3), RecordID: "newer"}
	eng.sts.Set(newer.Domain, newer)
	if _, err := eng.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := eng.sts.Get(newer.Domain); got != newer {
		t.Errorf("Load replaced the held state with %+v", got)
	}
	if got, _ := eng.sts.Get(scaleDomain(4)); got == nil {
		t.Error("Load skipped the other domains")
	}
}

// With a bounded hot store, Load stops once it is full instead of decoding the rest of the
// store only to evict; a lookup of a domain left on disk still answers from the store.
func TestLoadStopsWhenHotStoreFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	// n exceeds the bound plus every batch that can be in flight when Load notices.
	const bound = 300
	n := bound + (3*runtime.GOMAXPROCS(0)+2)*loadBatch + 1000
	generateScaleStore(t, path, n)
	store := openStore(t, path)
	eng := scaleEngine(t, store, bound)
	got, err := eng.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got >= n || eng.sts.Len() > bound {
		t.Errorf("Load read %d of %d entries into a hot store of %d (holding %d)", got, n, bound, eng.sts.Len())
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if d := eng.Resolve(context.Background(), plain, scaleDomain(i)); d.PostfixReply() != scaleReply(i) || !d.CacheHit {
			t.Errorf("%s: %q (hit %v), want %q from the store", scaleDomain(i), d.PostfixReply(), d.CacheHit, scaleReply(i))
		}
	}
}

// utcRecord is r with its times in UTC and a canonical policy text as nil Lines, for
// comparing what two records mean.
func utcRecord(r *stsRecord) stsRecord {
	c := *r
	for _, t := range []*time.Time{&c.TXTChecked, &c.Fetched, &c.Expires, &c.FailedAt, &c.DNSFailedAt} {
		*t = t.UTC()
	}
	if c.Policy != nil && c.Policy.Lines != nil && linesCanonical(c.Policy) {
		p := *c.Policy
		p.Lines = nil
		c.Policy = &p
	}
	return c
}

// A loaded policy whose text is the canonical one (held with nil Lines) answers exactly as
// the policy fetched: the same TLSRPT reply and the same JSON description.
func TestLoadedCanonicalPolicyAnswersAlike(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	const n = 10
	store := openStore(t, path)
	live := scaleEngine(t, store, 0)
	ctx := context.Background()
	type answer struct{ reply, sts string }
	ask := func(e *Engine, p *Profile, i int) answer {
		d := e.Resolve(ctx, p, scaleDomain(i))
		b, err := json.Marshal(d.STS)
		if err != nil {
			t.Fatal(err)
		}
		return answer{d.PostfixReply(), string(b)}
	}
	want := map[int][2]answer{}
	for i := range n {
		want[i] = [2]answer{ask(live, plain, i), ask(live, tlsrpt, i)}
	}
	closeStore(t, store)
	loaded := scaleEngine(t, openStore(t, path), 0)
	if got, err := loaded.Load(ctx); err != nil || got != n {
		t.Fatalf("Load = %d, %v", got, err)
	}
	if en, _ := loaded.sts.Get(scaleDomain(2)); en.Policy.Lines() != nil {
		t.Error("a canonical policy text is held, not rebuilt")
	}
	for i := range n {
		if got := [2]answer{ask(loaded, plain, i), ask(loaded, tlsrpt, i)}; got != want[i] {
			t.Errorf("%s: loaded %+v, fetched %+v", scaleDomain(i), got, want[i])
		}
	}
}
