package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
)

// countingBackend counts the reads of a persistent store.
type countingBackend struct {
	cache.Backend
	gets atomic.Int64
}

func (b *countingBackend) Get(ctx context.Context, kind, key string) (cache.Entry, bool, error) {
	b.gets.Add(1)
	return b.Backend.Get(ctx, kind, key)
}

// Issue 19: once Load has put every stored entry into the hot stores, a cold answer does
// not read the store (every later state reaches memory first, so a miss in memory is a
// miss on disk too); before Load has finished it does, so that a restarted daemon
// answers from disk meanwhile (TestMissReadsStoreBeforeLoad).
func TestColdMissSkipsStoreAfterFullLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := &countingBackend{Backend: openStore(t, path)}
	h := newHarness(t, store)
	h.sts("known.example", "1", policyText("enforce", 86400, "mx.known.example"))
	h.dns.Add("new1.example. 300 IN A 192.0.2.1", "new2.example. 300 IN A 192.0.2.1")

	h.resolve(plain, "known.example")
	if store.gets.Load() == 0 {
		t.Fatal("a miss before any Load did not read the store")
	}

	// A restart: a new engine on the same store, loaded in full.
	h.eng = h.engine(store, h.dns.Addr)
	if n, err := h.eng.Load(context.Background()); err != nil || n != 1 {
		t.Fatalf("Load = %d, %v; want the 1 stored entry", n, err)
	}
	store.gets.Store(0)
	if d := h.resolve(plain, "known.example"); !d.CacheHit || d.Result != OK {
		t.Errorf("known.example after Load: %q (hit %v), want its policy from memory", d.PostfixReply(), d.CacheHit)
	}
	if d := h.resolve(plain, "new1.example"); d.Result != NotFound {
		t.Errorf("new1.example: %q", d.PostfixReply())
	}
	if n := store.gets.Load(); n != 0 {
		t.Errorf("%d store reads on the answers after a full Load, want 0", n)
	}
	// What the cold answer learnt still reaches the store (write-behind).
	if _, ok, err := store.Backend.Get(context.Background(), kindSTS, "new1.example"); err != nil || !ok {
		t.Errorf("new1.example's state not in the store: %v %v", ok, err)
	}

	// The bound on entries makes Load stop early: the rest stays on disk, and misses read it.
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{h.dns.Addr}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	small, err := New(Options{Resolver: dc, Fetcher: h.fetch, Backend: store, Now: h.clock.Now, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if small.stsWhole() {
		t.Fatal("a Load that could not hold every stored entry claims memory holds the store")
	}
	store.gets.Store(0)
	small.Resolve(context.Background(), plain, "new2.example")
	if store.gets.Load() == 0 {
		t.Error("a miss after a partial Load did not read the store")
	}
}

// After a full Load, an entry evicted from the bounded hot store is still read back from
// disk on its next lookup (TestEvictedPolicyComesBackFromStore without Load): an eviction
// ends the "memory holds the store" state.
func TestEvictionAfterLoadReadsStoreAgain(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "cache.db"))
	h := newHarness(t, store)
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{h.dns.Addr}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.eng, err = New(Options{Resolver: dc, Fetcher: h.fetch, Backend: store, Now: h.clock.Now, MaxEntries: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !h.eng.stsWhole() {
		t.Fatal("a full Load of an empty store: memory should hold the store")
	}
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	h.resolve(plain, "example.com")
	for i := range 2000 {
		h.resolve(plain, fmt.Sprintf("churn%d.example", i))
	}
	if _, ok := h.eng.sts.Get("example.com"); ok {
		t.Fatal("the policy survived 2000 churn names in a hot store of 64 entries: the test no longer evicts it")
	}
	if h.eng.stsWhole() {
		t.Error("entries were evicted, yet memory claims to hold the store")
	}
	h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Timeout)
	h.fetch.setDown("example.com", true)
	if d := h.resolve(plain, "example.com"); d.PostfixReply() != "OK secure match=mx.example.com servername=hostname" {
		t.Errorf("evicted policy under a DNS fault: %q, want it read back from the store", d.PostfixReply())
	}
}
