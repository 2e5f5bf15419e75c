package socketmap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Server.Serve after Server.Shutdown has been called.
var ErrServerClosed = errors.New("socketmap: server closed")

// Defaults for the zero values of the Server fields.
const (
	// DefaultMaxRequest is Postfix's limit on a socketmap query (socketmap_table(5)).
	DefaultMaxRequest = 10000
	// DefaultMaxReply is Postfix's limit on a socketmap reply, excluding the netstring
	// framing (socketmap_table(5)).
	DefaultMaxReply = 100000
	// DefaultIdleTimeout is longer than Postfix's own 10 s idle limit, so it is normally
	// Postfix that closes a persistent connection, not the server.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultRequestTimeout bounds one Handler call, well within Postfix's 100 s limit.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultPartialTimeout bounds the arrival of one request once its first byte is in.
	// Postfix writes a request at once (and gives up on it after 100 s), so a request
	// still incomplete after a few seconds comes from a broken or hostile client.
	DefaultPartialTimeout = 3 * time.Second
)

// Handler answers socketmap lookups.
type Handler interface {
	// Lookup answers one request. name is the map name, key the lookup key. The reply is the
	// payload without the netstring framing, e.g. "OK secure match=.example.com" or "NOTFOUND ".
	// ctx carries the Server's RequestTimeout (none when it is negative: the handler bounds
	// its own work); near the deadline the handler decides what to answer (typically
	// "TEMP ..." or "TIMEOUT ..."). Lookup is called concurrently from many connections.
	// A Lookup about to wait (on the network, on another lookup) calls Flush(ctx) first,
	// so that the replies to the requests pipelined before it are written meanwhile;
	// otherwise they are written once it returns.
	Lookup(ctx context.Context, name, key string) string
}

// HandlerFunc adapts an ordinary function to the Handler interface.
type HandlerFunc func(ctx context.Context, name, key string) string

// Lookup calls f(ctx, name, key).
func (f HandlerFunc) Lookup(ctx context.Context, name, key string) string { return f(ctx, name, key) }

// Server serves the socketmap protocol (socketmap_table(5)) on one or more listeners. Set the
// fields before the first call to Serve and do not change them afterwards; the zero value of
// every field except Handler selects the documented default. One Server may Serve several
// listeners at once; Shutdown stops them all.
type Server struct {
	Handler        Handler
	MaxRequest     int           // request payload limit; default 10000 (Postfix's limit)
	MaxReply       int           // default 100000; longer replies are replaced by "PERM reply too long"
	IdleTimeout    time.Duration // close a connection with no request for this long (and bound each request's arrival and each reply's write); default 30s
	RequestTimeout time.Duration // deadline of the ctx given to Handler; default 10s; negative: none (the Handler bounds its own work)
	// PartialTimeout closes a connection whose request, once begun, is not complete this
	// long after its first byte (a total bound, however slowly the bytes trickle in);
	// default 3s, never more than IdleTimeout.
	PartialTimeout time.Duration
	// MaxConns caps open connections; 0 = unlimited. A connection accepted over the cap
	// takes the place of the connection holding a partial request longest (for at least
	// 100 ms), else of the one idle longest; when every connection is busy with a
	// request, it waits (back-pressure) until one is not.
	MaxConns int
	Logger   *slog.Logger // nil = discard

	mu     sync.Mutex
	inited bool
	// shutdown is set (under mu) when Shutdown starts; setIdle reads it without mu.
	shutdown   atomic.Bool
	done       chan struct{} // closed when Shutdown starts
	drained    chan struct{} // closed when shutdown is set and no connection is left
	sem        chan struct{} // MaxConns slots; nil when unlimited
	baseCtx    context.Context
	cancelBase context.CancelFunc
	listeners  map[net.Listener]struct{}
	conns      map[*conn]struct{}
}

// conn is one accepted connection. Its state is guarded by its own mu, so that marking a
// connection idle or busy (twice per request) does not contend on Server.mu.
type conn struct {
	nc      net.Conn
	mu      sync.Mutex
	state   connState
	since   time.Time // when the connection became idle or its request began
	evicted bool      // closed to make room for a newcomer (MaxConns)
}

// connState is where a connection is in its request cycle.
type connState uint8

const (
	stateBusy    connState = iota // a complete request is being answered
	stateIdle                     // waiting for the first byte of a request: may be closed at once
	statePartial                  // a request has begun and is not complete yet
)

// initLocked sets up the internal state on first use; s.mu must be held.
func (s *Server) initLocked() {
	if s.inited {
		return
	}
	s.inited = true
	s.done = make(chan struct{})
	s.drained = make(chan struct{})
	if s.MaxConns > 0 {
		s.sem = make(chan struct{}, s.MaxConns)
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.listeners = make(map[net.Listener]struct{})
	s.conns = make(map[*conn]struct{})
}

// Serve accepts connections on ln and serves each in its own goroutine until Shutdown is
// called (then it returns ErrServerClosed) or Accept fails permanently. Serve owns ln and
// closes it on return. With MaxConns connections open, a newly accepted one replaces a
// slow or idle connection (see MaxConns); when none can be closed it waits, and Serve
// accepts nothing more meanwhile, so further clients wait in the listen backlog.
func (s *Server) Serve(ln net.Listener) error {
	defer ln.Close()
	s.mu.Lock()
	s.initLocked()
	if s.shutdown.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	sem, done := s.sem, s.done
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isShutdown() {
				return ErrServerClosed
			}
			if !temporaryAcceptError(err) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("socketmap accept failed; retrying", "addr", ln.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-done:
				return ErrServerClosed
			}
		}
		backoff = 0
		if sem != nil && !s.admit(sem, done) {
			nc.Close()
			return ErrServerClosed
		}
		c := &conn{nc: nc}
		if !s.track(c) {
			nc.Close()
			if sem != nil {
				<-sem
			}
			return ErrServerClosed
		}
		go func() {
			defer func() {
				if sem != nil {
					<-sem
				}
			}()
			s.serveConn(c)
		}()
	}
}

// Shutdown stops every listener, closes idle connections, lets in-flight requests finish and
// their replies be written (including requests already pipelined behind them), and closes
// each connection once it is idle. It returns nil when no connection is left, or ctx.Err()
// when ctx ends first; then the remaining connections are closed and the contexts of running
// handlers are cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.initLocked()
	if !s.shutdown.Load() {
		s.shutdown.Store(true)
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.mu.Lock()
		if c.state == stateIdle {
			c.nc.Close()
		}
		c.mu.Unlock()
	}
	s.closeDrainedLocked()
	drained := s.drained
	s.mu.Unlock()

	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		s.cancelBase()
		return ctx.Err()
	}
}

func (s *Server) isShutdown() bool { return s.shutdown.Load() }

// track registers a new connection; it reports false when the server is shutting down.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.closeDrainedLocked()
}

// setState moves c to st, entered at now (idle and partial only). Going idle fails during
// shutdown, and any change fails once c was evicted: the caller then closes the connection.
//
// Ordering with Shutdown, which sets shutdown and then checks each connection under its
// c.mu: either Shutdown sees c idle and closes it, or setState, taking c.mu after Shutdown
// did, sees shutdown. The same holds for evictOne and evicted.
func (s *Server) setState(c *conn, st connState, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.evicted || st == stateIdle && s.shutdown.Load() {
		return false
	}
	c.state, c.since = st, now
	return true
}

func (s *Server) closeDrainedLocked() {
	if !s.shutdown.Load() || len(s.conns) > 0 {
		return
	}
	select {
	case <-s.drained:
	default:
		close(s.drained)
	}
}

// temporaryAcceptError reports Accept failures worth retrying: resource exhaustion and
// connections aborted before they were accepted.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) maxRequest() int { return positiveOr(s.MaxRequest, DefaultMaxRequest) }
func (s *Server) maxReply() int   { return positiveOr(s.MaxReply, DefaultMaxReply) }
func (s *Server) idleTimeout() time.Duration {
	return positiveOr(s.IdleTimeout, DefaultIdleTimeout)
}
func (s *Server) partialTimeout() time.Duration {
	return min(positiveOr(s.PartialTimeout, DefaultPartialTimeout), s.idleTimeout())
}
func (s *Server) requestTimeout() time.Duration {
	return positiveOr(s.RequestTimeout, DefaultRequestTimeout)
}

func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
