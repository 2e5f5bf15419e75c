package mtasts

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Issue 7: a policy host that resets the connection — before TLS, or in the middle of the
// body — gives a prompt fetch error (sts-policy-fetch-error), never a policy built from a
// partial body.
func TestFetchConnectionReset(t *testing.T) {
	p := newPKI(t)

	// Reset before any TLS: accept, then close with SO_LINGER 0 (an RST).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()

	// Reset mid-body: headers and half a policy, then an RST.
	body := "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\n"
	mid := startPolicyServer(t, p.good, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "200")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(body))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
			if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
				tcp.SetLinger(0)
			}
		}
		conn.Close()
	})

	for _, tt := range []struct {
		name, addr string
	}{
		{"reset before TLS", ln.Addr().String()},
		{"reset in the middle of the body", mid.Listener.Addr().String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			f := NewFetcher(FetcherConfig{Dial: dialTo(tt.addr, &asked, &mu), RootCAs: p.trusted, Timeout: 5 * time.Second})
			start := time.Now()
			res, err := f.Fetch(t.Context(), testDomain)
			var fe *FetchError
			if err == nil || !errors.As(err, &fe) || fe.Type != ResultFetchError {
				t.Fatalf("Fetch = %+v, %v; want an sts-policy-fetch-error", res, err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("a reset took %v to report (timeout 5 s): it should be prompt", el)
			}
		})
	}
}
