package hosting

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// startHardened serves h over TLS on a loopback port with the daemon's limits and a
// connection cap of maxConns.
func startHardened(t *testing.T, e *env, h *Host, maxConns int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leaf := e.ca.Leaf(t, "mta-sts.example.com")
	srv := NewServer(h, TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf, nil }), nil)
	go srv.ServeTLS(LimitListener(ln, maxConns), "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func (e *env) tlsDial(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: e.ca.Pool(), ServerName: "mta-sts.example.com", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A hostile client cannot hold the host: huge headers are refused, slow headers are cut
// off after ReadHeaderTimeout, and connections beyond the cap wait until one closes.
func TestHardening(t *testing.T) {
	e := newEnv(t)
	h := e.host(t, nil, "", nil)
	h.Update([]Spec{{Domain: "example.com", Mode: mtasts.ModeEnforce, MX: []string{"mx.example.com"}, MaxAge: 86400}})
	addr := startHardened(t, e, h, 2)

	// Huge headers: 431, not buffered without bound.
	c := e.tlsDial(t, addr)
	big := "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nX-Big: " + strings.Repeat("a", 2*MaxHeaderBytes) + "\r\n\r\n"
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(big))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge header: %v %v", resp, err)
	}
	c.Close()

	// Slow headers: the server closes the connection once ReadHeaderTimeout has passed.
	slow := e.tlsDial(t, addr)
	slow.Write([]byte("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.ex"))
	slow.SetReadDeadline(time.Now().Add(ReadHeaderTimeout + 5*time.Second))
	start := time.Now()
	_, err = io.ReadAll(slow)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept a slow-header connection open for %s", time.Since(start))
	}

	// Connection cap 2: two idle connections hold both slots; a third gets no TLS
	// handshake until one of them closes.
	a := e.tlsDial(t, addr)
	b := e.tlsDial(t, addr)
	third := make(chan error, 1)
	go func() {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
			&tls.Config{RootCAs: e.ca.Pool(), ServerName: "mta-sts.example.com"})
		if err == nil {
			c.Close()
		}
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("third connection got through the cap of 2: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	a.Close()
	if err := <-third; err != nil {
		t.Fatalf("third connection after a slot freed: %v", err)
	}
	b.Close()
}
