package policy

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mailtls/mailtls/dane"
)

// conformance.md §1: the next-hop keys Postfix sends for smart hosts and ports, and what
// each one is evaluated as.
func TestParseNexthopKey(t *testing.T) {
	tests := []struct {
		key     string
		domain  string
		host    bool
		port    uint16
		daneKey string
	}{
		{"example.com", "example.com", false, 25, "example.com"},
		{"Example.COM.", "example.com", false, 25, "example.com"},
		{"example.com:25", "example.com", false, 25, "example.com"},
		{"example.com:587", "example.com", false, 587, "example.com:587"},
		{"[example.com]", "example.com", true, 25, "[example.com]"},
		{"[example.com]:25", "example.com", true, 25, "[example.com]"},
		{"[example.com]:587", "example.com", true, 587, "[example.com]:587"},
		{"[Relay.Example.COM.]:0587", "relay.example.com", true, 587, "[relay.example.com]:587"},
		{"[relay.example.com]:submission", "relay.example.com", true, 587, "[relay.example.com]:587"},
		{"[relay.example.com]:smtp", "relay.example.com", true, 25, "[relay.example.com]"},
		{"[bücher.example]:465", "xn--bcher-kva.example", true, 465, "[xn--bcher-kva.example]:465"},
	}
	for _, tt := range tests {
		nh, err := ParseNexthopKey(tt.key)
		if err != nil {
			t.Errorf("%q: %v", tt.key, err)
			continue
		}
		want := Nexthop{Domain: tt.domain, Host: tt.host, Port: tt.port, DANEKey: tt.daneKey}
		if nh != want {
			t.Errorf("%q: %+v, want %+v", tt.key, nh, want)
		}
		// A canonical key parses to itself (the background refresher relies on it).
		again, err := ParseNexthopKey(nh.DANEKey)
		if err != nil || again != nh {
			t.Errorf("%q: canonical key %q parses to %+v, %v", tt.key, nh.DANEKey, again, err)
		}
	}
	for _, bad := range []string{"[example.com]:", "example.com:", "[example.com]:0", "[example.com]:65536", "example.com:99999", "[example.com]:imap"} {
		if nh, err := ParseNexthopKey(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, nh)
		}
	}
}

// conformance.md §1: "[host]" and "[host]:port" are evaluated for DANE as the host itself
// with TLSA at _<port>._tcp.<host> (RFC 7672 §2.2.2), never with the verdict of an MX set
// that shares the name; "domain:port" keeps the MX set on its own port; MTA-STS is looked
// up for the name in every form (RFC 8461 §4, smart host). The cache keeps the forms apart.
func TestSmartHostDestinations(t *testing.T) {
	enforce := policyText("enforce", 86400, "relay.example.com")
	h, fd := newDANEHarness(t, map[string]dane.Outcome{
		// The MX set of example.com has DANE on port 25; the host example.com itself has
		// no TLSA; the relay has TLSA on port 25 only.
		"example.com":             dane.DANEOnly,
		"[relay.example.com]":     dane.DANEOnly,
		"[relay.example.com]:587": dane.NoDANE,
		"example.com:587":         dane.DANE,
	})
	h.sts("relay.example.com", "1", enforce)
	tests := []struct {
		rule, key, want string
		asked           string // the destination the DANE evaluator was asked for
	}{
		{"domain: the MX set decides", "example.com", "OK dane-only", "example.com"},
		{"[domain]: the host alone, not the MX set of the same name (§2.2.2)", "[example.com]", "NOTFOUND ", "[example.com]"},
		{"domain:587: the MX set on port 587", "example.com:587", "OK dane", "example.com:587"},
		{"[relay]: TLSA at _25._tcp.relay → dane-only", "[relay.example.com]", "OK dane-only", "[relay.example.com]"},
		{"[relay]:587 without _587 TLSA: not dane-only from port 25's records; MTA-STS of the relay name decides",
			"[relay.example.com]:587", "OK secure match=relay.example.com servername=hostname", "[relay.example.com]:587"},
		{"[relay]:25 is [relay]", "[relay.example.com]:25", "OK dane-only", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			fd.mu.Lock()
			fd.asked = nil
			fd.mu.Unlock()
			d := h.resolve(plain, tt.key)
			if got := d.PostfixReply(); got != tt.want {
				t.Errorf("%s: %q, want %q\n%q", tt.key, got, tt.want, d.Reasons())
			}
			fd.mu.Lock()
			asked := slices.Clone(fd.asked)
			fd.mu.Unlock()
			if tt.asked != "" && !slices.Equal(asked, []string{tt.asked}) {
				t.Errorf("%s: DANE asked for %q, want [%s]", tt.key, asked, tt.asked)
			}
			if tt.asked == "" && len(asked) != 0 {
				t.Errorf("%s: DANE asked again (%q) for a destination already cached", tt.key, asked)
			}
		})
	}
	// Each form is cached apart: asking again costs no evaluation and gives the same.
	n := fd.count()
	for _, tt := range tests {
		if got := h.resolve(plain, tt.key).PostfixReply(); got != tt.want {
			t.Errorf("cached %s: %q, want %q", tt.key, got, tt.want)
		}
	}
	if fd.count() != n {
		t.Errorf("%d evaluations for cached destinations", fd.count()-n)
	}
}

// The persistent store keeps the forms apart too: after a restart each key gets its own
// outcome back from disk, without evaluating anything.
func TestSmartHostStoreKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	outcomes := map[string]dane.Outcome{"example.com": dane.DANEOnly, "[example.com]": dane.NoDANE, "[example.com]:587": dane.DANE, "example.com:587": dane.LookupFailed}
	want := map[string]string{"example.com": "OK dane-only", "[example.com]": "NOTFOUND ", "[example.com]:587": "OK dane", "example.com:587": "OK dane"}
	h := newHarness(t, store)
	fd := &fakeDANE{outcomes: outcomes, ttl: 3600}
	h.eng.SetDANE(fd, "")
	h.dns.Add("example.com. 300 IN A 192.0.2.1")
	for key, w := range want {
		if got := h.resolve(plain, key).PostfixReply(); got != w {
			t.Fatalf("%s: %q, want %q", key, got, w)
		}
	}
	closeStore(t, store)
	ctx := context.Background()
	store2 := openStore(t, path)
	for _, key := range []string{"example.com", "[example.com]", "[example.com]:587"} {
		if _, ok, err := store2.Get(ctx, kindDANE, key); !ok || err != nil {
			t.Errorf("store has no DANE entry %q (%v)", key, err)
		}
	}
	eng := h.engine(store2, h.dns.Addr)
	none := &fakeDANE{outcomes: map[string]dane.Outcome{}}
	eng.SetDANE(none, "")
	for key, w := range want {
		if key == "example.com:587" {
			continue // a lookup failure is cached briefly, and is not what this checks
		}
		if got := eng.Resolve(ctx, plain, key).PostfixReply(); got != w {
			t.Errorf("%s after restart: %q, want %q", key, got, w)
		}
	}
	if none.count() != 0 {
		t.Errorf("%d DANE evaluations after a restart with every outcome on disk: %q", none.count(), none.asked)
	}
}

// Purge of a domain drops the DANE facts of every destination with its name, in memory and
// on disk, and counts the domain once.
func TestPurgeSmartHostKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h := newHarness(t, store)
	fd := &fakeDANE{outcomes: map[string]dane.Outcome{"[example.com]:587": dane.DANEOnly}, ttl: 3600}
	h.eng.SetDANE(fd, "")
	h.dns.Add("example.com. 300 IN A 192.0.2.1")
	for _, key := range []string{"example.com", "[example.com]", "[example.com]:587", "example.com:587", "example.net"} {
		h.resolve(plain, key)
	}
	ctx := context.Background()
	if n := h.eng.Purge(ctx, "example.com"); n != 1 {
		t.Errorf("Purge(example.com) = %d, want 1", n)
	}
	for _, key := range []string{"example.com", "[example.com]", "[example.com]:587", "example.com:587"} {
		if _, ok := h.eng.dane.Get(key); ok {
			t.Errorf("%s still in memory", key)
		}
		if _, ok, _ := store.Get(ctx, kindDANE, key); ok {
			t.Errorf("%s still on disk", key)
		}
	}
	if _, ok := h.eng.dane.Get("example.net"); !ok {
		t.Error("example.net purged with example.com")
	}
	if n := h.eng.Purge(ctx, ""); n != 1 {
		t.Errorf("Purge(all) = %d, want 1 (example.net)", n)
	}
}
