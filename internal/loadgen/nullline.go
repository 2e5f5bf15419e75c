package loadgen

import (
	"bytes"
	"net"
)

// ServeNullLine serves the line protocol of mailtls's readsocket listener (and Exim's
// ${readsocket}) on ln as a server that does nothing else: it reads one request line —
// up to a newline, or to the client's shutdown without one — answers reply and a newline
// whatever the request, and closes the connection, one request per connection as Exim
// makes them. It is the loopback ceiling a line-protocol server's figures are read
// against. It returns when ln is closed, after every connection has ended.
func ServeNullLine(ln net.Listener, reply string) error {
	line := []byte(reply + "\n")
	return serveConns(ln, func(c net.Conn) { serveNullLineConn(c, line) })
}

// serveNullLineConn reads up to 1 KiB of request, to its newline or the end of the
// stream, and writes line.
func serveNullLineConn(c net.Conn, line []byte) {
	var buf [1024]byte
	for n := 0; n < len(buf); {
		m, err := c.Read(buf[n:])
		if bytes.IndexByte(buf[n:n+m], '\n') >= 0 {
			break
		}
		n += m
		if err != nil {
			if n == 0 {
				return // nothing asked
			}
			break
		}
	}
	_, _ = c.Write(line)
}
