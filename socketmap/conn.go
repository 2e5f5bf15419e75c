package socketmap

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Replies the server itself writes (socketmap_table(5) reply format).
const (
	replyMalformed     = "PERM malformed request"
	replyTooLong       = "PERM request too long"
	replyNoSpace       = "PERM malformed request: no space between map name and key"
	replyEmptyName     = "PERM malformed request: empty map name"
	replyReplyTooLong  = "PERM reply too long"
	replyInternalError = "TEMP internal error"
)

// serveConn runs one persistent connection: requests are read and answered strictly in order
// (socketmap_table(5): one reply per request). Replies are buffered while further complete
// requests are already buffered (pipelining), and flushed before the server would wait for
// input, so a lone request is never held back.
func (s *Server) serveConn(c *conn) {
	log := s.logger().With("remote", remoteName(c.nc))
	defer func() {
		c.nc.Close()
		s.untrack(c)
	}()
	idle, partial := s.idleTimeout(), s.partialTimeout()
	r := NewReader(c.nc, s.maxRequest())
	w := bufio.NewWriterSize(c.nc, 4096)
	flush := func() bool {
		if w.Buffered() == 0 {
			return true
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(idle))
		if err := w.Flush(); err != nil {
			log.Debug("socketmap write failed", "err", err)
			return false
		}
		return true
	}

	for {
		if !r.completeBuffered() && !flush() {
			return
		}
		if r.Buffered() == 0 {
			// Between requests: idle, so Shutdown (or a newcomer over MaxConns) may close
			// the connection right away.
			now := time.Now()
			if !s.setState(c, stateIdle, now) {
				return
			}
			_ = c.nc.SetReadDeadline(now.Add(idle))
			if _, err := r.br.Peek(1); err != nil {
				logReadEnd(log, err, "idle")
				return
			}
		}
		// A request has started. Usually it is whole in the buffer already; if not, all
		// of the rest must arrive within the partial timeout, counted from now however
		// slowly it trickles in (slow-loris clients are reaped, and over MaxConns they are
		// the first to make room).
		whole := r.completeBuffered()
		if !whole {
			now := time.Now()
			if !s.setState(c, statePartial, now) {
				return
			}
			_ = c.nc.SetReadDeadline(now.Add(partial))
		} else if !s.setState(c, stateBusy, time.Time{}) {
			return
		}
		payload, err := r.Next()
		if !whole && err == nil && !s.setState(c, stateBusy, time.Time{}) {
			return
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLong):
			// The framing is lost and the stream cannot be resynchronised: answer once if
			// the peer still listens, then close (conformance.md §1).
			log.Warn("socketmap request rejected; closing connection", "err", err)
			reply := replyMalformed
			if errors.Is(err, ErrTooLong) {
				reply = replyTooLong
			}
			writeReply(w, reply)
			flush()
			return
		default:
			logReadEnd(log, err, "request")
			return
		}
		reply := s.answer(log, payload)
		if len(reply)+16 > w.Available() { // 16: room for the length digits, ':' and ','
			// bufio writes to the connection from inside writeReply: give that write the
			// same bound as a flush, not whatever deadline the last flush left.
			_ = c.nc.SetWriteDeadline(time.Now().Add(idle))
		}
		writeReply(w, reply)
	}
}

// answer turns one request payload "name<SPACE>key" into a reply payload. The key is
// everything after the first space and may itself contain spaces.
func (s *Server) answer(log *slog.Logger, payload []byte) string {
	name, key, ok := strings.Cut(string(payload), " ")
	switch {
	case !ok:
		return replyNoSpace
	case name == "":
		return replyEmptyName
	}
	ctx := s.baseCtx
	if s.RequestTimeout >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.requestTimeout())
		defer cancel()
	}
	reply := s.lookup(ctx, log, name, key)
	if n := len(reply); n > s.maxReply() {
		log.Error("socketmap reply exceeds the Postfix limit; answering PERM", "name", name, "key", key, "len", n, "max", s.maxReply())
		return replyReplyTooLong
	}
	return reply
}

// lookup calls the handler; a panic is logged and answered with TEMP so that the daemon and
// the connection survive it.
func (s *Server) lookup(ctx context.Context, log *slog.Logger, name, key string) (reply string) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("socketmap handler panicked", "name", name, "key", key, "panic", v)
			reply = replyInternalError
		}
	}()
	return s.Handler.Lookup(ctx, name, key)
}

// writeReply buffers one netstring-framed reply without allocating; errors surface on flush.
// The length digits go in byte by byte: handing the array to Write would let it escape to
// the heap (Write may pass it on to the connection).
func writeReply(w *bufio.Writer, reply string) {
	var digits [20]byte
	for _, c := range strconv.AppendInt(digits[:0], int64(len(reply)), 10) {
		_ = w.WriteByte(c)
	}
	_ = w.WriteByte(':')
	_, _ = w.WriteString(reply)
	_ = w.WriteByte(',')
}

// logReadEnd logs why reading stopped: a clean close is not worth mentioning.
func logReadEnd(log *slog.Logger, err error, phase string) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && ne.Timeout():
		log.Debug("socketmap connection timed out", "phase", phase)
	default:
		log.Debug("socketmap read failed", "phase", phase, "err", err)
	}
}

func remoteName(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "unix"
}
