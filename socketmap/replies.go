package socketmap

import (
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Reply batching. Replies to pipelined requests are gathered in one buffer and written
// together when the server is about to wait for input (no further whole request is
// buffered), so a batch of requests that arrived in one read costs one write. Two rules keep
// batching from delaying anyone:
//   - before waiting for input, everything pending is written: a reply never waits for a
//     later request to arrive;
//   - while a lookup runs with replies pending (requests were pipelined behind a slow, cold
//     one), a timer writes them after maxHold: a reply never waits for a later request's
//     lookup for longer than that.

const (
	// replyBufSize is the batch size that triggers a write on its own; the first reply of a
	// batch that would overflow it goes out with the next write.
	replyBufSize = 4096
	// maxReplyBufKeep: a buffer grown larger than this by a long reply is released after
	// its write, so a connection does not keep 100 kB for good.
	maxReplyBufKeep = 16 << 10
	// maxHold bounds how long a ready reply may wait for a lookup behind it. A cached
	// answer takes about a microsecond; a cold one takes at least a DNS round trip.
	maxHold = 500 * time.Microsecond
)

// replyWriter buffers the netstring-framed replies of one connection. Its methods are
// called by the connection's goroutine; the hold timer writes from its own goroutine, so
// while it is armed both take mu (see holdExpired).
type replyWriter struct {
	nc   net.Conn
	idle time.Duration // bound of each write: a write that makes no progress for this long fails
	hold time.Duration // how long ready replies may wait for a lookup (maxHold)

	mu  sync.Mutex
	buf []byte
	err error // sticky: the connection is done
	// wdl is the write deadline in force. It is set again only when a write times out
	// before its own bound (a deadline left by an earlier write), not before every write:
	// setting a deadline costs more than the rare retry.
	wdl time.Time

	// Hold timer, created on first use. pending (connection goroutine only) says replies
	// were added since this goroutine last wrote; armed says the timer may fire or is
	// running.
	timer   *time.Timer
	armed   atomic.Bool
	pending bool
}

func newReplyWriter(nc net.Conn, idle, hold time.Duration) *replyWriter {
	return &replyWriter{nc: nc, idle: idle, hold: hold, buf: make([]byte, 0, replyBufSize)}
}

// add frames reply into the buffer, writing the buffer first if reply would overflow it.
// It reports false once a write has failed.
func (w *replyWriter) add(reply string) bool {
	if w.armed.Load() { // the hold timer may be writing: take turns
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	if w.err != nil {
		return false
	}
	if len(w.buf) > 0 && len(w.buf)+len(reply)+22 > replyBufSize { // 22: length digits, ':' and ','
		if !w.writeLocked() {
			return false
		}
	}
	w.buf = strconv.AppendInt(w.buf, int64(len(reply)), 10)
	w.buf = append(w.buf, ':')
	w.buf = append(w.buf, reply...)
	w.buf = append(w.buf, ',')
	w.pending = true
	return true
}

// flush writes every pending reply. It reports false once a write has failed.
func (w *replyWriter) flush() bool {
	w.pending = false
	if w.armed.Load() && w.timer.Stop() {
		w.armed.Store(false)
	}
	if w.armed.Load() { // the hold timer fired and is writing: take turns
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	return w.writeLocked()
}

// holdForLookup is called before a lookup: when replies are pending, it arms the timer
// that writes them if the lookup takes longer than the hold time.
func (w *replyWriter) holdForLookup() {
	if !w.pending || w.armed.Load() {
		return
	}
	w.armed.Store(true)
	if w.timer == nil {
		w.timer = time.AfterFunc(w.hold, w.holdExpired)
		return
	}
	w.timer.Reset(w.hold)
}

// holdExpired runs on the timer's goroutine: a lookup has kept ready replies waiting.
// armed, cleared only once the write is done, tells the connection's goroutine to take
// turns with it until then: while armed is false, the timer is idle and that goroutine
// owns the buffer alone (its stores happen before the Store below, which the goroutine's
// Load observes).
func (w *replyWriter) holdExpired() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeLocked()
	w.armed.Store(false)
}

// stop disarms the hold timer when the connection ends.
func (w *replyWriter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// error returns the error that ended writing, if any.
func (w *replyWriter) error() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// writeLocked writes the buffer to the connection; w.mu is held. Each write gets the idle
// bound from its start: the deadline left by an earlier write is kept while it lies ahead,
// and moved to start+idle only if it expires first.
func (w *replyWriter) writeLocked() bool {
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
