package loadgen

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/mailtls/mailtls/socketmap"
)

// ServeNull serves the socketmap protocol on ln, answering every request with reply and
// doing nothing else: the loopback ceiling that a policy server's figures are read against.
// Like a good server it writes the replies to pipelined requests together, flushing only
// when no further request is already buffered. It returns when ln is closed, after every
// connection has ended.
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
	br := bufio.NewReaderSize(c, 4096)
	r := socketmap.NewReader(br, socketmap.DefaultMaxRequest)
	bw := bufio.NewWriterSize(c, 4096)
	for {
		if _, err := r.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				bw.Flush()
			}
			return
		}
		if _, err := bw.Write(frame); err != nil {
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}
