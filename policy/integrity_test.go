package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache/sqlitestore"
)

// Issue 11 (item 4): one flipped byte inside a stored policy — its mode (enforce →
// enforcE, which once answered NOTFOUND) or an MX name (which once answered match=nx.…)
// — is not served: the store refuses the row (checksum), counts it, and the engine treats
// the domain as unknown and fetches its policy afresh.
func TestFlippedStoreValueRefetched(t *testing.T) {
	const want = "OK secure match=mx1.flip.example servername=hostname"
	for _, tt := range []struct {
		name, marker string
		at           int
	}{
		{"mode enforce → enforcE", "enforce", 6},
		{"MX name mx1 → mx1 with one byte changed", "mx1.flip.example", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			store := openStore(t, path)
			h := newHarness(t, store)
			h.sts("flip.example", "1", policyText("enforce", 86400, "mx1.flip.example"))
			if got := h.resolve(plain, "flip.example").PostfixReply(); got != want {
				t.Fatalf("first lookup: %q", got)
			}
			closeStore(t, store)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Count(b, []byte(tt.marker)) != 1 {
				t.Fatalf("%q is not in the store file exactly once", tt.marker)
			}
			b[bytes.Index(b, []byte(tt.marker))+tt.at] ^= 0x20
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}

			store2 := openStore(t, path)
			eng := h.engine(store2, h.dns.Addr)
			if n, err := eng.Load(context.Background()); err != nil || n != 0 {
				t.Errorf("Load = %d, %v; want the damaged entry skipped", n, err)
			}
			fetches := h.fetch.count("flip.example")
			d := eng.Resolve(context.Background(), plain, "flip.example")
			if got := d.PostfixReply(); got != want {
				t.Errorf("after the flip: %q, want %q (fetched afresh)", got, want)
			}
			if h.fetch.count("flip.example") != fetches+1 {
				t.Errorf("fetches after the flip: %d, want one more than %d", h.fetch.count("flip.example"), fetches)
			}
			if c := store2.Stats().Corrupt; c == 0 {
				t.Error("the damaged value was not counted")
			}
		})
	}
}

// Issue 11 (item 3): Load skips entries whose time is up — a policy past max_age with its
// TXT check due, a negative entry past its TTL — so a restart does not fill memory with
// facts no lookup would use; live entries load as before.
func TestLoadSkipsExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h := newHarness(t, store)
	h.sts("short.example", "1", policyText("enforce", 600, "mx.short.example"))
	h.sts("long.example", "1", policyText("enforce", 86400, "mx.long.example"))
	h.dns.Add("nopolicy.example. 300 IN A 192.0.2.1")
	for _, d := range []string{"short.example", "long.example", "nopolicy.example"} {
		h.resolve(plain, d)
	}
	closeStore(t, store)

	h.clock.Advance(2 * time.Hour) // past short's max_age, its TXT TTL and the negative TTL
	store2, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	eng := h.engine(store2, h.dns.Addr)
	n, err := eng.Load(context.Background())
	if err != nil || n != 1 {
		t.Errorf("Load = %d, %v; want only long.example", n, err)
	}
	for d, want := range map[string]bool{"long.example": true, "short.example": false, "nopolicy.example": false} {
		if _, ok := eng.sts.Get(d); ok != want {
			t.Errorf("%s in the hot store after Load: %v, want %v", d, ok, want)
		}
	}
}
