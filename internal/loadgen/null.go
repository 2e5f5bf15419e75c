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
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveNullConn(c, frame)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
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
