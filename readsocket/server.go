package readsocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mailtls/mailtls/policy"
)

// Decider answers one request as every front end does (daemon.Decide): it resolves key
// under the named profile into dec, counts and audits the answer. An unknown profile is an
// error wrapping policy.ErrUnknownProfile.
type Decider interface {
	Decide(ctx context.Context, profile, key string, dec *policy.Decision) (reply string, err error)
}

// MaxRequest bounds a request line: a profile name, a space and a next-hop.
const MaxRequest = 1024

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("readsocket: server closed")

// Replies the server itself writes.
const (
	replyTooLong  = "result=PERM message=request_too_long"
	replyEmpty    = "result=PERM message=empty_request"
	replyFields   = "result=PERM message=request_is_PROFILE_NEXT-HOP"
	replyNoProf   = "result=PERM message=no_profile_given_and_none_configured"
	replyUnknown  = "result=PERM message=unknown_profile"
	replyInternal = "result=TEMP message=internal_error"
)

// Server answers line-protocol connections: one request, one reply, then close.
type Server struct {
	Decider Decider
	// Profile is the profile of a request that gives none (or "-").
	Profile string
	// ReadTimeout bounds the arrival of the whole request (default 5 s); WriteTimeout the
	// reply (default 5 s). The decision itself is bounded by the profile's answer
	// deadline.
	ReadTimeout, WriteTimeout time.Duration
	Logger                    *slog.Logger

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closed   bool
	baseCtx  context.Context
	cancelFn context.CancelFunc
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.lns == nil {
		s.lns, s.conns = map[net.Listener]struct{}{}, map[net.Conn]struct{}{}
		s.baseCtx, s.cancelFn = context.WithCancel(context.Background())
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("readsocket accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Shutdown stops accepting, lets the requests being answered finish until ctx ends (then
// cancels them) and returns once every connection is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		if s.cancelFn != nil {
			s.cancelFn()
		}
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	_ = c.SetReadDeadline(time.Now().Add(orDefault(s.ReadTimeout, 5*time.Second)))
	line, err := readLine(c)
	var reply string
	switch {
	case errors.Is(err, errTooLong):
		reply = replyTooLong
	case err != nil:
		s.logger().Debug("readsocket request not read", "remote", remote(c), "err", err)
		return
	default:
		reply = s.answer(line)
	}
	_ = c.SetWriteDeadline(time.Now().Add(orDefault(s.WriteTimeout, 5*time.Second)))
	if _, err := io.WriteString(c, reply+"\n"); err != nil {
		s.logger().Debug("readsocket reply not written", "remote", remote(c), "err", err)
		return
	}
	if reply == replyTooLong {
		// Unread input would make the close a reset that can destroy the reply before
		// the client reads it: say we are done, then drain a bounded amount.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}
}

var errTooLong = errors.New("request longer than MaxRequest")

// readLine reads one request: up to a newline (an optional CR before it is dropped) or,
// when the client shuts its side down without one, up to the end of the stream.
func readLine(c net.Conn) (string, error) {
	r := bufio.NewReaderSize(io.LimitReader(c, MaxRequest+2), MaxRequest+2)
	line, err := r.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && len(line) <= MaxRequest: // shut down without a newline
	case errors.Is(err, io.EOF) && len(line) > MaxRequest, errors.Is(err, bufio.ErrBufferFull):
		return "", errTooLong
	default:
		return "", err
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) > MaxRequest {
		return "", errTooLong
	}
	return string(line), nil
}

// answer turns one request line into one reply line.
func (s *Server) answer(line string) (reply string) {
	f := strings.Fields(line)
	var profile, key string
	switch len(f) {
	case 0:
		return replyEmpty
	case 1:
		key = f[0]
	case 2:
		profile, key = f[0], f[1]
	default:
		return replyFields
	}
	if profile == "" || profile == "-" {
		profile = s.Profile
	}
	if profile == "" {
		return replyNoProf
	}
	defer func() {
		if v := recover(); v != nil {
			s.logger().Error("readsocket decision panicked", "profile", profile, "key", key, "panic", v)
			reply = replyInternal
		}
	}()
	var dec policy.Decision
	s.mu.Lock()
	ctx := s.baseCtx
	s.mu.Unlock()
	if _, err := s.Decider.Decide(ctx, profile, key, &dec); errors.Is(err, policy.ErrUnknownProfile) {
		return replyUnknown
	} else if err != nil {
		s.logger().Error("readsocket decision failed", "profile", profile, "key", key, "err", err)
		return replyInternal
	}
	return Format(&dec)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func remote(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "unix"
}
