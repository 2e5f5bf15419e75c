package hosting

import (
	"context"
	"testing"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// RFC 8461 §8.3: to remove MTA-STS, publish mode none with a new id and keep it for at
// least the old max_age. Switching to none starts the wait; removing a domain that was
// still enforcing keeps it served as mode none until the wait is over; state survives a
// restart.
func TestSafeRemoval(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	st, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := e.host(t, st, "", nil)
	enforce := Spec{Domain: "a.example", Mode: mtasts.ModeEnforce, MX: []string{"mx.a.example"}, MaxAge: 7200}
	other := Spec{Domain: "b.example", Mode: mtasts.ModeEnforce, MX: []string{"mx.b.example"}, MaxAge: 3600}
	h.Update([]Spec{enforce, other})

	// a.example goes to mode none at t0: removal is safe at t0 + 7200 s.
	e.clk.Add(time.Hour)
	t0 := e.clk.Now()
	none := enforce
	none.Mode = mtasts.ModeNone
	h.Update([]Spec{none, other})
	ds, _ := st.Get("a.example")
	if ds.Mode != mtasts.ModeNone || !ds.SafeAfter.Equal(t0.Add(7200*time.Second)) || ds.RemovalSafe(t0) {
		t.Fatalf("after switching to none: %+v", ds)
	}
	p, _ := h.Lookup("mta-sts.a.example")
	if p.Mode != mtasts.ModeNone || p.ID != ds.ID {
		t.Fatalf("served %+v", p)
	}

	// b.example is removed from the configuration while enforcing: it is retired.
	e.clk.Add(time.Minute)
	t1 := e.clk.Now()
	h.Update([]Spec{none})
	p, class := h.Lookup("mta-sts.b.example")
	if p == nil || p.Mode != mtasts.ModeNone || class != ClassRetiring || p.Source != SourceRetiring {
		t.Fatalf("removed enforcing domain: %+v %v", p, class)
	}
	if ds, _ := st.Get("b.example"); !ds.SafeAfter.Equal(t1.Add(3600 * time.Second)) {
		t.Fatalf("b.example state %+v", ds)
	}

	// A restart (new state and host from the same directory) keeps all of it.
	st2, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	h2 := e.host(t, st2, "", nil)
	h2.Update([]Spec{none})
	if p, class := h2.Lookup("mta-sts.b.example"); p == nil || class != ClassRetiring {
		t.Fatalf("after restart b.example: %+v", p)
	}
	// Past b's max_age it is dropped; a.example still waits.
	e.clk.Add(3601 * time.Second)
	h2.Refresh(context.Background())
	if p, _ := h2.Lookup("mta-sts.b.example"); p != nil {
		t.Fatalf("b.example still served after its removal became safe: %+v", p)
	}
	if _, ok := st2.Get("b.example"); ok {
		t.Error("b.example still in state")
	}
	if ds, _ := st2.Get("a.example"); ds.RemovalSafe(e.clk.Now()) {
		t.Error("a.example safe too early")
	}
	e.clk.Add(7200 * time.Second)
	if ds, _ := st2.Get("a.example"); !ds.RemovalSafe(e.clk.Now()) {
		t.Error("a.example never safe")
	}
}

// A policy change that is not a removal (mx list edited) moves SafeAfter forward too: a
// sender may hold either policy.
func TestStateKeepsLatestExpiry(t *testing.T) {
	e := newEnv(t)
	st, _ := OpenState(t.TempDir())
	h := e.host(t, st, "", nil)
	s := Spec{Domain: "c.example", Mode: mtasts.ModeEnforce, MX: []string{"mx1.c.example"}, MaxAge: 86400}
	h.Update([]Spec{s})
	e.clk.Add(time.Hour)
	tChange := e.clk.Now()
	s.MX = []string{"mx2.c.example"}
	s.MaxAge = 600
	h.Update([]Spec{s})
	e.clk.Add(time.Hour)
	s.Mode = mtasts.ModeNone
	h.Update([]Spec{s})
	ds, _ := st.Get("c.example")
	if want := tChange.Add(86400 * time.Second); !ds.SafeAfter.Equal(want) {
		t.Errorf("SafeAfter %s, want %s (the first policy's max_age dominates)", ds.SafeAfter, want)
	}
}
