package policy

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/dane"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/internal/dnstest"
)

// Issue 2: a restarted engine loads the persistent store and answers known domains at
// once with no network: the resolver is a closed port and the policy host is down.
func TestRestartAnswersFromStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, store)
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	h.dns.Add("nopolicy.example. 300 IN A 192.0.2.1")
	if d := h.resolve(plain, "example.com"); d.Result != OK {
		t.Fatalf("first lookup %q", d.PostfixReply())
	}
	h.resolve(plain, "nopolicy.example")
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// A closed port: every DNS query fails at once.
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.LocalAddr().String()
	ln.Close()
	h.fetch.setDown("example.com", true)

	store2, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	eng := h.engine(store2, dead)
	n, err := eng.Load(context.Background())
	if err != nil || n < 2 {
		t.Fatalf("Load = %d, %v; want both domains", n, err)
	}
	fetches := h.fetch.count("example.com")
	d := eng.Resolve(context.Background(), plain, "example.com")
	if d.PostfixReply() != "OK secure match=mx.example.com servername=hostname" || !d.CacheHit {
		t.Errorf("after restart: %q (hit %v)", d.PostfixReply(), d.CacheHit)
	}
	if d := eng.Resolve(context.Background(), plain, "nopolicy.example"); d.Result != NotFound || !d.CacheHit {
		t.Errorf("negative entry after restart: %q (hit %v)", d.PostfixReply(), d.CacheHit)
	}
	if h.fetch.count("example.com") != fetches {
		t.Error("the restarted engine fetched instead of using the store")
	}
}

// A policy evicted from the bounded hot store by churn (many never-seen names) is read back
// from the persistent store on the next lookup, so churn cannot push a domain back to
// first contact: under a DNS fault it still answers with its policy. (Found by the soak run.)
func TestEvictedPolicyComesBackFromStore(t *testing.T) {
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "cache.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := newHarness(t, store)
	dc, err := dnsclient.New(dnsclient.Config{Servers: []string{h.dns.Addr}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.eng, err = New(Options{Resolver: dc, Fetcher: h.fetch, Backend: store, Now: h.clock.Now, MaxEntries: 64})
	if err != nil {
		t.Fatal(err)
	}
	h.sts("example.com", "1", policyText("enforce", 86400, "mx.example.com"))
	h.resolve(plain, "example.com")
	store.Flush(context.Background())
	// MaxEntries 64 makes 64 shards of one entry each: the first churn name that hashes
	// (FNV-1a, deterministic) to example.com's shard evicts it.
	for i := range 2000 {
		h.resolve(plain, fmt.Sprintf("churn%d.example", i))
	}
	if _, ok := h.eng.sts.Get("example.com"); ok {
		t.Fatal("the policy survived 2000 churn names in a hot store of 64 entries: the test no longer evicts it")
	}
	h.dns.SetMode("_mta-sts.example.com.", 0, dnstest.Timeout)
	h.fetch.setDown("example.com", true)
	if d := h.resolve(plain, "example.com"); d.PostfixReply() != "OK secure match=mx.example.com servername=hostname" {
		t.Errorf("evicted policy under a DNS fault: %q, want it read back from the store", d.PostfixReply())
	}
}

// A restarted daemon answers while Load still runs in the background: a lookup that misses
// the hot store reads the persistent store, for DANE outcomes as for MTA-STS policies. With
// DNS down and Load not run at all, a dane-only domain still gets dane-only (not the weaker
// "dane" a failed evaluation would give) and the MTA-STS domain its policy, both without
// network work.
func TestMissReadsStoreBeforeLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h, _ := newDANEHarness(t, map[string]dane.Outcome{"dane.example": dane.DANEOnly})
	h.eng = h.engine(store, h.dns.Addr)
	h.eng.SetDANE(&fakeDANE{outcomes: map[string]dane.Outcome{"dane.example": dane.DANEOnly}, ttl: 3600}, "")
	h.sts("sts.example", "1", policyText("enforce", 86400, "mx.sts.example"))
	for key, want := range map[string]string{"dane.example": "OK dane-only", "sts.example": "OK secure match=mx.sts.example servername=hostname"} {
		if got := h.resolve(plain, key).PostfixReply(); got != want {
			t.Fatalf("first lookup of %s: %q, want %q", key, got, want)
		}
	}
	closeStore(t, store)

	store2 := openStore(t, path)
	h.fetch.setDown("sts.example", true)
	failing := &fakeDANE{outcomes: map[string]dane.Outcome{"dane.example": dane.LookupFailed, "sts.example": dane.LookupFailed}}
	eng := h.engine(store2, h.dns.Addr)
	eng.SetDANE(failing, "")
	h.dns.SetMode("_mta-sts.sts.example.", 0, dnstest.Timeout)
	for key, want := range map[string]string{"dane.example": "OK dane-only", "sts.example": "OK secure match=mx.sts.example servername=hostname"} {
		d := eng.Resolve(context.Background(), plain, key)
		if got := d.PostfixReply(); got != want || !d.CacheHit {
			t.Errorf("%s before Load: %q (hit %v), want %q from the store", key, got, d.CacheHit, want)
		}
	}
	if failing.calls != 0 {
		t.Errorf("DANE evaluated %d times although the store held both outcomes", failing.calls)
	}
}

// Purge reaches entries still only on disk (a restarted daemon whose Load has not got to
// them): the domain is dropped from the store and its next lookup starts cold; "purge
// -all" empties the store, so a later Load finds nothing; and an entry read from disk
// before a purge is not copied into memory after it.
func TestPurgeReachesDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h := newHarness(t, store)
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		h.sts(d, "1", policyText("enforce", 86400, "mx."+d))
		if got := h.resolve(plain, d); got.Result != OK {
			t.Fatalf("%s: %q", d, got.PostfixReply())
		}
	}
	closeStore(t, store)
	store2 := openStore(t, path)
	eng := h.engine(store2, h.dns.Addr) // no Load: everything is still only on disk
	ctx := context.Background()
	if n := eng.Purge(ctx, "a.example"); n != 1 {
		t.Errorf("Purge(a.example) = %d, want 1 (the entry on disk)", n)
	}
	if _, ok, _ := store2.Get(ctx, kindSTS, "a.example"); ok {
		t.Error("a.example still in the store after Purge")
	}
	h.fetch.setDown("a.example", true)
	if d := eng.Resolve(ctx, plain, "a.example"); d.CacheHit || d.Result == OK {
		t.Errorf("a.example after Purge: %q (hit %v), want a cold lookup (policy host down)", d.PostfixReply(), d.CacheHit)
	}

	gen := eng.purges.Load()
	if n := eng.Purge(ctx, ""); n < 2 {
		t.Errorf("Purge(all) = %d, want at least b and c", n)
	}
	if eng.keepFromDisk(gen, func() { t.Error("a copy from disk ran after a purge") }) {
		t.Error("keepFromDisk with a generation from before the purge reported storing")
	}
	fresh := h.engine(store2, h.dns.Addr)
	if n, err := fresh.Load(ctx); err != nil || n != 0 {
		t.Errorf("Load after Purge(all) = %d, %v; want an empty store", n, err)
	}
}

// mailtls cache list/show see a domain that is only in the persistent store (not loaded
// yet after a restart): it is listed and shown, marked DiskOnly, with its policy; once a
// lookup has read it back, it is shown from memory.
func TestCacheViewsReachDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h := newHarness(t, store)
	h.sts("a.example", "1", policyText("enforce", 86400, "mx.a.example"))
	h.resolve(plain, "a.example")
	closeStore(t, store)
	store2 := openStore(t, path)
	eng := h.engine(store2, h.dns.Addr) // no Load

	c, ok := eng.CacheShow("a.example")
	if !ok || !c.DiskOnly || c.State != "policy" || c.Mode != "enforce" || len(c.Detail) == 0 {
		t.Fatalf("CacheShow before Load: %+v, %v; want the policy, DiskOnly", c, ok)
	}
	if l := eng.CacheList("a.ex"); len(l) != 1 || l[0].Domain != "a.example" || !l[0].DiskOnly {
		t.Errorf("CacheList before Load: %+v", l)
	}
	if l := eng.CacheList("nomatch"); len(l) != 0 {
		t.Errorf("CacheList(nomatch): %+v", l)
	}
	if _, ok := eng.sts.Get("a.example"); ok {
		t.Error("CacheShow/CacheList put the entry into memory")
	}
	eng.Resolve(context.Background(), plain, "a.example")
	if c, ok := eng.CacheShow("a.example"); !ok || c.DiskOnly {
		t.Errorf("CacheShow after a lookup: %+v, %v; want it from memory", c, ok)
	}
	if l := eng.CacheList(""); len(l) != 1 || l[0].DiskOnly {
		t.Errorf("CacheList after a lookup: %+v; want one entry, from memory", l)
	}
}

// openStore opens (or reopens) the SQLite store at path, closed at the end of the test.
func openStore(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// closeStore closes a store before it is reopened, as a stopped daemon leaves it.
func closeStore(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
