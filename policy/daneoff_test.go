package policy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dane"
)

// Issue 11: with the DANE stage switched off at run time (the resolver failed the DNSSEC
// validation check), a domain whose known DANE facts give a DANE answer gets TEMP, never
// a weaker level; a profile with dane: required answers TEMP for every domain; facts that
// let MTA-STS decide, or say the domain takes no mail, still decide as with DANE on.
func TestDANEOffNeverWeaker(t *testing.T) {
	h, fd := newDANEHarness(t, map[string]dane.Outcome{
		"only.example":     dane.DANEOnly,
		"some.example":     dane.DANE,
		"failed.example":   dane.LookupFailed,
		"insecure.example": dane.InsecureMXDANE,
		"insts.example":    dane.InsecureMXDANE,
		"temp.example":     dane.TempFail,
		"nomail.example":   dane.NoMail,
		"plain.example":    dane.NoDANE,
	})
	h.sts("insts.example", "1", policyText("enforce", 86400, "mx.insts.example"))
	h.sts("plain.example", "1", policyText("enforce", 86400, "mx.plain.example"))
	h.dns.Add("fresh.example. 300 IN A 192.0.2.1")
	required := &Profile{Name: "required", DANE: true, DANERequired: true}
	keys := []string{"only.example", "some.example", "failed.example", "insecure.example", "insts.example", "temp.example", "nomail.example", "plain.example"}
	for _, k := range keys { // learn the facts while DANE is on
		h.resolve(plain, k)
	}
	calls := fd.count()

	h.eng.SetDANE(nil, "resolver validation check: AD=0")
	h.clock.Advance(48 * time.Hour) // the facts expire; DANE cannot re-check them
	tests := []struct {
		rule, key  string
		p          *Profile
		want       string
		wantReason string
	}{
		{"dane-only facts → TEMP", "only.example", plain, "TEMP ", "require DANE"},
		{"dane facts → TEMP", "some.example", plain, "TEMP ", "require DANE"},
		{"lookup-failed facts (would be dane) → TEMP", "failed.example", plain, "TEMP ", "require DANE"},
		{"insecure MX with TLSA, no MTA-STS → TEMP", "insecure.example", plain, "TEMP ", "require DANE"},
		{"insecure MX with TLSA, MTA-STS enforce decides as with DANE on", "insts.example", plain, "OK secure match=mx.insts.example servername=hostname", "DISABLED"},
		{"MX unknown → TEMP as before", "temp.example", plain, "TEMP MX lookup", "RFC 7672 §2.1.2"},
		{"no mail → NOTFOUND as before", "nomail.example", plain, "NOTFOUND ", "accepts no mail"},
		{"no DANE → MTA-STS", "plain.example", plain, "OK secure match=mx.plain.example", "DISABLED"},
		{"unknown domain → default", "fresh.example", plain, "NOTFOUND ", "DISABLED"},
		{"required profile, no DANE facts → TEMP", "fresh.example", required, "TEMP ", "requires DANE"},
		{"required profile, MTA-STS domain → TEMP", "plain.example", required, "TEMP ", "requires DANE"},
		{"TLSRPT profile → TEMP", "only.example", tlsrpt, "TEMP ", "require DANE"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			d := h.resolve(tc.p, tc.key)
			if got := d.PostfixReply(); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("%s: %q, want %q…", tc.key, got, tc.want)
			}
			if r := strings.Join(d.Reasons(), "\n"); !strings.Contains(r, tc.wantReason) {
				t.Errorf("reasons lack %q:\n%s", tc.wantReason, r)
			}
		})
	}
	if fd.count() != calls {
		t.Errorf("DANE evaluated %d times while off", fd.count()-calls)
	}

	// Back on: the facts are re-checked and answered again.
	h.eng.SetDANE(fd, "")
	if got := h.resolve(plain, "only.example").PostfixReply(); got != "OK dane-only" {
		t.Errorf("DANE back on: %q", got)
	}
}

// Issue 11: the facts held while DANE is off include those only in the persistent store,
// which keeps an outcome requiring DANE for a week past its expiry: a restart two days
// later with a resolver that fails the check (DANE off from the start) still answers TEMP
// for a domain the store knows as DANE, before and after Load, and after the store's
// sweep. An outcome without DANE is swept at its expiry as before.
func TestDANEOffHoldsStoredFacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	store := openStore(t, path)
	h, _ := newDANEHarness(t, nil)
	h.eng = h.engine(store, h.dns.Addr)
	h.eng.SetDANE(&fakeDANE{outcomes: map[string]dane.Outcome{"only.example": dane.DANEOnly}, ttl: 300}, "")
	if got := h.resolve(plain, "only.example").PostfixReply(); got != "OK dane-only" {
		t.Fatalf("first lookup %q", got)
	}
	h.resolve(plain, "nodane.example")
	if err := store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(48 * time.Hour)
	n, err := store.Sweep(context.Background(), h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := store.Get(context.Background(), kindDANE, "nodane.example"); ok || n == 0 {
		t.Errorf("the expired no-DANE outcome was not swept (swept %d)", n)
	}
	closeStore(t, store)

	store2 := openStore(t, path)
	eng := h.engine(store2, h.dns.Addr)
	eng.SetDANE(nil, "resolver validation check: timeout")
	if got := eng.Resolve(context.Background(), plain, "only.example").PostfixReply(); !strings.HasPrefix(got, "TEMP ") {
		t.Fatalf("before Load: %q, want TEMP", got)
	}
	eng2 := h.engine(store2, h.dns.Addr)
	eng2.SetDANE(nil, "resolver validation check: timeout")
	if n, err := eng2.Load(context.Background()); err != nil || n == 0 {
		t.Fatalf("Load = %d, %v", n, err)
	}
	if got := eng2.Resolve(context.Background(), plain, "only.example").PostfixReply(); !strings.HasPrefix(got, "TEMP ") {
		t.Fatalf("after Load: %q, want TEMP", got)
	}
	// Eight days on, the held outcome is swept too.
	h.clock.Advance(7 * 24 * time.Hour)
	if _, err := store2.Sweep(context.Background(), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := store2.Get(context.Background(), kindDANE, "only.example"); ok {
		t.Error("the DANE outcome outlived daneHeldFor in the store")
	}
}
