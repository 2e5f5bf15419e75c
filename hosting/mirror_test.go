package hosting

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// upstream is a policy host to mirror whose answer the test changes.
type upstream struct {
	mu     sync.Mutex
	status int
	ctype  string
	body   string
	loc    string
}

func (u *upstream) set(status int, ctype, body string) {
	u.mu.Lock()
	u.status, u.ctype, u.body, u.loc = status, ctype, body, ""
	u.mu.Unlock()
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.loc != "" {
		w.Header().Set("Location", u.loc)
	}
	w.Header().Set("Content-Type", u.ctype)
	w.WriteHeader(u.status)
	w.Write([]byte(u.body))
}

// Mirror mode fetches with a sender's rules (RFC 8461 §3.3) and serves the last valid copy
// until its max_age, never an invalid upstream answer, then nothing (503).
func TestMirror(t *testing.T) {
	e := newEnv(t)
	up := &upstream{}
	good := "version: STSv1\nmode: enforce\nmx: mx.provider.example\nmax_age: 3600\n"
	up.set(200, "text/plain; charset=utf-8", good)
	uts := httptest.NewUnstartedServer(up)
	uts.TLS = TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c := e.ca.Leaf(t, "mta-sts.provider.example")
		return &c, nil
	})
	uts.StartTLS()
	t.Cleanup(uts.Close)

	var changes []Change
	h := e.host(t, nil, uts.Listener.Addr().String(), &changes)
	h.Update([]Spec{{Domain: "example.org", Upstream: "https://mta-sts.provider.example/.well-known/mta-sts.txt"}})
	h.Refresh(context.Background())
	p, class := h.Lookup("mta-sts.example.org")
	if p == nil || string(p.Body) != good || class != ClassMirror || !p.Servable(e.clk.Now()) {
		t.Fatalf("mirrored policy %+v class %v", p, class)
	}
	first := p.ID

	// Each of these upstream answers a sender would refuse; the good copy stays.
	bad := []struct {
		name        string
		status      int
		ctype, body string
	}{
		{"invalid policy", 200, "text/plain", "version: STSv1\nmode: enforce\nmax_age: 3600\n"},
		{"wrong content type", 200, "text/html", good},
		{"404", 404, "text/plain", good},
		{"redirect", 301, "text/plain", good},
	}
	for _, b := range bad {
		up.set(b.status, b.ctype, b.body)
		if b.status == 301 {
			up.loc = "https://elsewhere.example/"
		}
		e.clk.Add(10 * time.Minute)
		h.Refresh(context.Background())
		p, _ := h.Lookup("mta-sts.example.org")
		if p.ID != first || !p.Servable(e.clk.Now()) {
			t.Fatalf("%s: served %+v", b.name, p)
		}
	}
	// 40 minutes after the fetch the copy (max_age 3600) expires: 503 from then on.
	e.clk.Add(25 * time.Minute)
	h.Refresh(context.Background())
	p, _ = h.Lookup("mta-sts.example.org")
	if p.Servable(e.clk.Now()) {
		t.Fatalf("expired copy still servable: %+v", p)
	}
	ts := e.serveTLS(t, h)
	if _, err := e.fetcher(ts.Listener.Addr().String()).Fetch(context.Background(), "example.org"); err == nil {
		t.Fatal("expired mirror copy was served")
	}
	// The upstream recovers with a changed policy: served with a new id.
	changed := "version: STSv1\nmode: testing\nmx: mx.provider.example\nmax_age: 3600\n"
	up.set(200, "text/plain", changed)
	e.clk.Add(time.Minute)
	h.Refresh(context.Background())
	p, _ = h.Lookup("mta-sts.example.org")
	if string(p.Body) != changed || p.ID == first || !p.Servable(e.clk.Now()) {
		t.Fatalf("after recovery: %+v", p)
	}
	var sawErr bool
	for _, c := range changes {
		sawErr = sawErr || c.Err != ""
	}
	if !sawErr || changes[len(changes)-1].NewID != p.ID {
		t.Errorf("changes %+v", changes)
	}
}
