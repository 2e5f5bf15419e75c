package loadgen

import (
	"bufio"
	"errors"
	"net"
	"sync"

	"github.com/mailtls/mailtls/socketmap"
)

// ServeNull serves the socketmap protocol on ln, answering every request with reply and
// doing nothing else: the loopback ceiling that a policy server's figures are read against.
// It batches the replies to pipelined requests by the rule socketmap.Server follows, so that
// the two are compared on the same footing: the replies are written together when no
// further whole request is already buffered (socketmap.Reader.CompleteBuffered), never
// held back waiting for input, through a 4 KiB buffer like the server's. It returns when ln
// is closed, after every connection has ended.
func ServeNull(ln net.Listener, reply string) error {
	frame := socketmap.AppendNetstring(nil, []byte(reply))
	return serveConns(ln, func(c net.Conn) { serveNullConn(c, frame) })
}

// serveConns accepts connections on ln and serves each with serve on a goroutine of its
// own, closing it afterwards. It returns when ln is closed, after closing every
// connection still open and waiting for their goroutines.
func serveConns(ln net.Listener, serve func(net.Conn)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			serve(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		})
	}
}

func serveNullConn(c net.Conn, frame []byte) {
	r := socketmap.NewReader(c, socketmap.DefaultMaxRequest)
	bw := bufio.NewWriterSize(c, 4096)
	for {
		if !r.CompleteBuffered() {
			if err := bw.Flush(); err != nil {
				return
			}
		}
		if _, err := r.Next(); err != nil {
			bw.Flush() // the replies before a broken request
			return
		}
		if _, err := bw.Write(frame); err != nil {
			return
		}
	}
}
