package socketmap

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
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

// serveConn runs one persistent connection: requests are read and answered strictly in order,
// one at a time on this goroutine (socketmap_table(5): one reply per request), so a slow
// lookup delays only the requests pipelined behind it on the same connection. Replies are
// batched (replies.go): gathered while further whole requests are already buffered, and
// written before the server waits for input, or before a lookup waits (Flush), so a reply
// is never held back for long.
func (s *Server) serveConn(c *conn) {
	log := s.logger().With("remote", remoteName(c.nc))
	w := newReplyWriter(c.nc, s.idleTimeout())
	ctx := context.WithValue(s.baseCtx, flushKey{}, w) // the lookups' context: Flush finds w
	defer func() {
		c.nc.Close()
		s.untrack(c)
	}()
	idle, partial := s.idleTimeout(), s.partialTimeout()
	r := NewReader(c.nc, s.maxRequest())
	rd := readDeadline{nc: c.nc}
	busy := false // c's state is stateBusy (only this goroutine changes it)

	for {
		payload, ok := r.nextBuffered()
		if !ok {
			// No whole request is buffered: send the pending replies before waiting.
			if !w.flush() {
				log.Debug("socketmap write failed", "err", w.err)
				return
			}
			if r.Buffered() == 0 {
				// Between requests: idle, so Shutdown (or a newcomer over MaxConns) may
				// close the connection right away.
				now := time.Now()
				if !s.setState(c, stateIdle, now) {
					return
				}
				busy = false
				if err := rd.waitInput(r, now.Add(idle)); err != nil {
					logReadEnd(log, err, "idle")
					return
				}
				payload, ok = r.nextBuffered()
			}
		}
		if !ok {
			// A request has started and is not whole yet (or its framing is broken, and
			// Next fails at once). All of the rest must arrive within the partial timeout,
			// counted from now however slowly it trickles in (slow-loris clients are
			// reaped, and over MaxConns they are the first to make room).
			if r.CompleteBuffered() {
				if !s.setState(c, stateBusy, time.Time{}) {
					return
				}
				busy = true
			} else {
				now := time.Now()
				if !s.setState(c, statePartial, now) {
					return
				}
				busy = false
				rd.set(now.Add(partial))
			}
			var err error
			payload, err = r.Next()
			switch {
			case err == nil:
			case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLong):
				// The framing is lost and the stream cannot be resynchronised: answer once
				// if the peer still listens, then close (conformance.md §1).
				log.Warn("socketmap request rejected; closing connection", "err", err)
				reply := replyMalformed
				if errors.Is(err, ErrTooLong) {
					reply = replyTooLong
				}
				if w.add(reply) {
					w.flush()
				}
				return
			default:
				logReadEnd(log, err, "request")
				return
			}
		}
		if !busy {
			if !s.setState(c, stateBusy, time.Time{}) {
				return
			}
			busy = true
		}
		if !w.add(s.answer(ctx, log, payload)) {
			log.Debug("socketmap write failed", "err", w.err)
			return
		}
	}
}

// readDeadline keeps a connection's read deadline, set again only when needed: waiting for
// a request that does not come is bounded by the idle timeout from the moment the
// connection went idle, but a deadline still ahead from an earlier wait is left in place
// (setting one costs more than the rare early expiry, after which the wait resumes with its
// own deadline).
type readDeadline struct {
	nc net.Conn
	t  time.Time
}

func (d *readDeadline) set(t time.Time) {
	d.t = t
	_ = d.nc.SetReadDeadline(t)
}

// waitInput waits until r has input buffered, or until deadline.
func (d *readDeadline) waitInput(r *Reader, deadline time.Time) error {
	if d.t.IsZero() || d.t.After(deadline) {
		d.set(deadline)
	}
	for {
		_, err := r.br.Peek(1)
		if err == nil {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(deadline) {
			d.set(deadline) // an earlier wait's deadline expired first
			continue
		}
		return err
	}
}

// answer turns one request payload "name<SPACE>key" into a reply payload. The key is
// everything after the first space and may itself contain spaces. ctx is the connection's.
func (s *Server) answer(ctx context.Context, log *slog.Logger, payload []byte) string {
	name, key, ok := strings.Cut(string(payload), " ")
	switch {
	case !ok:
		return replyNoSpace
	case name == "":
		return replyEmptyName
	}
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
