package httpapi

import (
	"log"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// DefaultMaxConnections is the connections a listener holds at once when none is
// configured; more wait in the kernel's listen queue.
const DefaultMaxConnections = 1024

// NewServer returns the http.Server the API is served with: MTAs keep a few connections
// alive per delivery process; a request is a path and a token (16 KiB of headers at
// most); a decision may take up to a profile's answer deadline (25 s by default), so the
// write timeout leaves room beyond it. errorLog may be nil.
func NewServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: errorLog}
}

// Listen listens on the TCP address addr, holding at most maxConns connections at once
// (DefaultMaxConnections when maxConns ≤ 0).
func Listen(addr string, maxConns int) (net.Listener, error) {
	if maxConns <= 0 {
		maxConns = DefaultMaxConnections
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(ln, maxConns), nil
}
