package loadgen

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/socketmap"
)

func listen(t *testing.T, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func startNull(t *testing.T, network, reply string) string {
	t.Helper()
	ln := listen(t, network)
	done := make(chan error, 1)
	go func() { done <- ServeNull(ln, reply) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeNull: %v", err)
		}
	})
	return ln.Addr().String()
}

// The null server answers every request, strict and pipelined, over TCP and Unix sockets;
// every reply is counted by kind and nothing is an error.
func TestRunAgainstNull(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		addr := startNull(t, network, "OK secure match=.example.com")
		for _, pipe := range []int{1, 16} {
			res, err := Run(context.Background(), Config{Network: network, Addr: addr, Map: "postfix",
				Keys: []string{"a.example", "b.example"}, Conns: 4, Pipeline: pipe,
				Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("%s ×%d: %v", network, pipe, err)
			}
			if res.Requests == 0 || res.Replies["OK"] != res.Requests || len(res.Replies) != 1 {
				t.Errorf("%s ×%d: %d requests, replies %v", network, pipe, res.Requests, res.Replies)
			}
			if res.Errors != 0 {
				t.Errorf("%s ×%d: %d errors (%v)", network, pipe, res.Errors, res.LastError)
			}
			if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max {
				t.Errorf("%s ×%d: p50 %v p99 %v max %v out of order", network, pipe, res.P50, res.P99, res.Max)
			}
			if res.Rate != float64(res.Requests)/0.2 {
				t.Errorf("rate %v for %d requests in 200ms", res.Rate, res.Requests)
			}
		}
	}
}

// Each key goes out as "<map> <key>" in a netstring, keys are cycled over, and replies are
// classified by their first word.
func TestRunSendsKeysAndClassifies(t *testing.T) {
	var seen seenSet
	h := socketmap.HandlerFunc(func(_ context.Context, name, key string) string {
		seen.add(name + " " + key)
		switch key {
		case "ok.example":
			return "OK secure"
		case "none.example":
			return "NOTFOUND "
		case "temp.example":
			return "TEMP try later"
		default:
			return "PERM bad"
		}
	})
	ln := listen(t, "tcp")
	srv := &socketmap.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	keys := []string{"ok.example", "none.example", "temp.example", "perm.example"}
	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), Map: "prof", Keys: keys, Conns: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"OK", "NOTFOUND", "TEMP", "PERM"} {
		if res.Replies[k] == 0 {
			t.Errorf("no %s replies: %v", k, res.Replies)
		}
	}
	for _, k := range keys {
		if seen.count("prof "+k) == 0 {
			t.Errorf("request %q never sent", "prof "+k)
		}
	}
}

// A server that drops the connection now and then: each drop is an error, the worker
// dials again and the run goes on.
func TestRunCountsErrorsAndRedials(t *testing.T) {
	ln := listen(t, "tcp")
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				r := socketmap.NewReader(c, socketmap.DefaultMaxRequest)
				for range 5 {
					if _, err := r.Next(); err != nil {
						return
					}
					c.Write(socketmap.AppendNetstring(nil, []byte("OK may")))
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), Map: "m", Keys: []string{"k"}, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || conns.Load() < 2 || res.Requests == 0 {
		t.Errorf("errors %d, connections %d, replies %d: want drops counted and redials", res.Errors, conns.Load(), res.Requests)
	}
}

// Nothing listening: Run reports the failure instead of a zero rate.
func TestRunNoServer(t *testing.T) {
	ln := listen(t, "tcp")
	addr := ln.Addr().String()
	ln.Close()
	_, err := Run(context.Background(), Config{Addr: addr, Map: "m", Keys: []string{"k"}, Duration: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no reply") {
		t.Fatalf("err = %v, want a no-reply error", err)
	}
	if _, err := Run(context.Background(), Config{Addr: addr}); err == nil {
		t.Error("Run with no keys succeeded")
	}
}
