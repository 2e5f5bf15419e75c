package socketmap

import (
	"net"
	"testing"
	"time"
)

// discardConn is a connection whose writes succeed and vanish.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// Batching a reply and writing the batch cost no allocation per request (the connection's
// buffer is reused).
func TestReplyWriterAllocs(t *testing.T) {
	w := newReplyWriter(discardConn{}, DefaultIdleTimeout)
	w.wdl = w.wdl.AddDate(3000, 0, 0) // a deadline is in force: discardConn cannot take one
	reply := "OK secure match=mx1.example.com:.example.net servername=hostname"
	if n := testing.AllocsPerRun(100, func() {
		for range 16 {
			w.add(reply)
		}
		w.flush()
	}); n != 0 {
		t.Errorf("16 replies and a write: %v allocations, want 0", n)
	}
}

// The reply buffer holds exactly the netstring framing of each reply.
func TestReplyWriterFraming(t *testing.T) {
	var got []byte
	w := newReplyWriter(recordConn{&got}, DefaultIdleTimeout)
	w.wdl = w.wdl.AddDate(3000, 0, 0)
	for _, r := range []string{"OK a", "NOTFOUND ", ""} {
		w.add(r)
	}
	w.flush()
	if want := "4:OK a,9:NOTFOUND ,0:,"; string(got) != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

type recordConn struct{ b *[]byte }

func (recordConn) Read([]byte) (int, error)           { return 0, net.ErrClosed }
func (c recordConn) Write(p []byte) (int, error)      { *c.b = append(*c.b, p...); return len(p), nil }
func (recordConn) Close() error                       { return nil }
func (recordConn) LocalAddr() net.Addr                { return pipeAddr{} }
func (recordConn) RemoteAddr() net.Addr               { return pipeAddr{} }
func (recordConn) SetDeadline(t time.Time) error      { return nil }
func (recordConn) SetReadDeadline(t time.Time) error  { return nil }
func (recordConn) SetWriteDeadline(t time.Time) error { return nil }
