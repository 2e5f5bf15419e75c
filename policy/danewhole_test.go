package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/dane"
)

// daneGets counts the DANE reads of the backend it wraps.
type daneGets struct {
	cache.Backend
	n atomic.Int64
}

func (b *daneGets) Get(ctx context.Context, kind, key string) (cache.Entry, bool, error) {
	if kind == kindDANE {
		b.n.Add(1)
	}
	return b.Backend.Get(ctx, kind, key)
}

// Once a Load has read the whole persistent store into the hot store, a DANE lookup that
// misses memory does not read the disk (every outcome is in memory): with the DANE stage
// off, answering a domain without DANE facts reads nothing, while the facts that hold a
// DANE domain to TEMP still do. Before Load, or once an outcome was left out or evicted,
// a miss reads the disk as before.
func TestDANEWholeSkipsDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h, _ := newDANEHarness(t, nil)
	h.eng = h.engine(store, h.dns.Addr)
	outcomes := map[string]dane.Outcome{"only.example": dane.DANEOnly}
	for i := range 20 {
		outcomes[fmt.Sprintf("d%d.example", i)] = dane.DANE
	}
	h.eng.SetDANE(&fakeDANE{outcomes: outcomes, ttl: 300}, "")
	for d := range outcomes {
		h.resolve(plain, d)
	}
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx.sts.example"))
	h.resolve(plain, "sts.example")
	closeStore(t, store)

	ctx := context.Background()
	open := func(maxEntries int) (*Engine, *daneGets, func()) {
		st := openStore(t, path)
		b := &daneGets{Backend: st}
		eng, err := New(Options{Resolver: h.eng.opt.Resolver, Fetcher: h.fetch, Backend: b, Now: h.clock.Now, MaxEntries: maxEntries})
		if err != nil {
			t.Fatal(err)
		}
		eng.SetDANE(nil, "resolver validation check: timeout")
		return eng, b, func() { closeStore(t, st) }
	}
	ask := func(eng *Engine, key, want string) {
		t.Helper()
		if got := eng.Resolve(ctx, plain, key).PostfixReply(); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q…", key, got, want)
		}
	}
	lookups := func(eng *Engine) {
		t.Helper()
		for range 3 {
			ask(eng, "sts.example", "OK secure match=mx.sts.example")
			ask(eng, "only.example", "TEMP ")
			ask(eng, "nofacts.example", "NOTFOUND ") // no DANE facts anywhere
		}
	}

	eng, b, done := open(1000)
	lookups(eng)
	if b.n.Load() == 0 {
		t.Error("before Load, a DANE miss did not read the store")
	}
	if _, err := eng.Load(ctx); err != nil {
		t.Fatal(err)
	}
	b.n.Store(0)
	lookups(eng)
	if n := b.n.Load(); n != 0 {
		t.Errorf("after a whole Load: %d DANE reads for lookups memory answers", n)
	}
	// Outcomes evicted from memory (here by others filling it) are on disk only again.
	for i := range 2000 {
		en := &daneEntry{}
		en.state.Store(&daneState{Domain: fmt.Sprintf("filler%d.example", i)})
		eng.dane.Set(fmt.Sprintf("filler%d.example", i), en)
	}
	lookups(eng)
	if b.n.Load() == 0 {
		t.Error("after evictions, a DANE miss did not read the store")
	}
	done()

	// A Load that could not hold everything leaves the rest on disk, and lookups read it.
	eng, b, done = open(2)
	if _, err := eng.Load(ctx); err != nil {
		t.Fatal(err)
	}
	b.n.Store(0)
	lookups(eng)
	if b.n.Load() == 0 {
		t.Error("after a partial Load, a DANE miss did not read the store")
	}
	done()
}
