package socketmap

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// Reply batching. Replies to pipelined requests are gathered in one buffer and written
// together when the server is about to wait for input (no further whole request is
// buffered), so a batch of requests that arrived in one read costs one write. Two rules keep
// batching from delaying anyone:
//   - before waiting for input, everything pending is written: a reply never waits for a
//     later request to arrive;
//   - before a lookup waits (on the network, say), the Handler calls Flush: a reply never
//     waits for a later request's slow lookup. Answers from memory take microseconds, and
//     their replies stay in the batch.

const (
	// replyBufSize is the batch size that triggers a write on its own; the first reply of a
	// batch that would overflow it goes out with the next write.
	replyBufSize = 4096
	// maxReplyBufKeep: a buffer grown larger than this by a long reply is released after
	// its write, so a connection does not keep 100 kB for good.
	maxReplyBufKeep = 16 << 10
)

// replyWriter buffers the netstring-framed replies of one connection. Only the
// connection's goroutine uses it: the server's loop, and the Handler through Flush while
// the loop waits for its Lookup.
type replyWriter struct {
	nc   net.Conn
	idle time.Duration // bound of each write: a write that makes no progress for this long fails
	buf  []byte
	err  error // sticky: the connection is done
	// wdl is the write deadline in force. It is set again only when a write times out
	// before its own bound (a deadline left by an earlier write), not before every write:
	// setting a deadline costs more than the rare retry.
	wdl time.Time
}

func newReplyWriter(nc net.Conn, idle time.Duration) *replyWriter {
	return &replyWriter{nc: nc, idle: idle, buf: make([]byte, 0, replyBufSize)}
}

// flushKey is the context key under which a connection's lookups find its replyWriter.
type flushKey struct{}

// Flush writes the replies to a connection's earlier requests that are still buffered,
// when ctx is (or derives from) the context a Server passed to Handler.Lookup; with any
// other context it does nothing. A Handler about to wait — on the network, on another
// lookup — calls it first, so that those replies, ready since the requests before this one
// were answered, do not wait with it. It must be called on the goroutine running Lookup,
// before Lookup returns. A failed write ends the connection once Lookup returns.
func Flush(ctx context.Context) {
	if w, ok := ctx.Value(flushKey{}).(*replyWriter); ok {
		w.flush()
	}
}

// add frames reply into the buffer, writing the buffer first if reply would overflow it.
// It reports false once a write has failed.
func (w *replyWriter) add(reply string) bool {
	if w.err != nil {
		return false
	}
	if len(w.buf) > 0 && len(w.buf)+len(reply)+22 > replyBufSize { // 22: length digits, ':' and ','
		if !w.flush() {
			return false
		}
	}
	w.buf = strconv.AppendInt(w.buf, int64(len(reply)), 10)
	w.buf = append(w.buf, ':')
	w.buf = append(w.buf, reply...)
	w.buf = append(w.buf, ',')
	return true
}

// flush writes the buffer to the connection. It reports false once a write has failed.
// Each write gets the idle bound from its start: the deadline left by an earlier write is
// kept while it lies ahead, and moved to start+idle only if it expires first.
func (w *replyWriter) flush() bool {
	if w.err != nil {
		return false
	}
	if len(w.buf) == 0 {
		return true
	}
	start := time.Now()
	if w.wdl.IsZero() {
		w.setDeadline(start.Add(w.idle))
	}
	b := w.buf
	for len(b) > 0 {
		n, err := w.nc.Write(b)
		b = b[n:]
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(start) < w.idle {
			w.setDeadline(start.Add(w.idle)) // the deadline was an earlier write's
			continue
		}
		w.err = err
		return false
	}
	if cap(w.buf) > maxReplyBufKeep {
		w.buf = make([]byte, 0, replyBufSize)
	} else {
		w.buf = w.buf[:0]
	}
	return true
}

func (w *replyWriter) setDeadline(t time.Time) {
	w.wdl = t
	_ = w.nc.SetWriteDeadline(t)
}
