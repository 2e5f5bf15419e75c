package hosting

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/hosting/mirror"
	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/mailtls/mailtls/internal/testpki"
	"github.com/mailtls/mailtls/mtasts"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a DNS server, a resolver on it and a test CA.
type env struct {
	dns *dnstest.Server
	res *dnsclient.Client
	ca  *testpki.CA
	clk *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := dnstest.New(t)
	r, err := dnsclient.New(dnsclient.Config{Servers: []string{s.Addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &env{dns: s, res: r, ca: testpki.NewCA(t, "hosting test CA"), clk: newClock()}
}

// dialTo is a fetcher Dial that sends every connection to addr (the test's listener).
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// fetcher is a sender's fetcher whose connections all go to addr.
func (e *env) fetcher(addr string) *mtasts.Fetcher {
	return mtasts.NewFetcher(mtasts.FetcherConfig{Dial: dialTo(addr), RootCAs: e.ca.Pool(), Timeout: 5 * time.Second})
}

// host builds a Host over e with upstream fetches going to upstreamAddr ("" for none).
func (e *env) host(t *testing.T, st *State, upstreamAddr string, changes *[]Change) *Host {
	t.Helper()
	b := &Builder{Resolver: e.res}
	if upstreamAddr != "" {
		b.Mirror = &mirror.Fetcher{STS: e.fetcher(upstreamAddr)}
	}
	var mu sync.Mutex
	return New(Options{Builder: b, State: st, Now: e.clk.Now, OnChange: func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		if changes != nil {
			*changes = append(*changes, c)
		}
	}})
}

// serveTLS serves h over HTTPS with a lab certificate for any SNI name.
func (e *env) serveTLS(t *testing.T, h *Host) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config = NewServer(h, nil, nil)
	var mu sync.Mutex
	certs := map[string]*tls.Certificate{}
	ts.TLS = TLSConfig(func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := certs[hello.ServerName]; ok {
			return c, nil
		}
		c := e.ca.Leaf(t, hello.ServerName)
		certs[hello.ServerName] = &c
		return &c, nil
	})
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}
