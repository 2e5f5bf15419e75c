package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// query asks every configured server in turn for qtype at name until one gives a usable
// answer (NOERROR or NXDOMAIN). It returns the reply and the server that gave it.
//
// Fallback rules: a timeout, a network error, REFUSED or a malformed reply moves on to the
// next server. SERVFAIL is what a validating resolver returns for bogus data (RFC 4035
// §5.5) but also for a transient upstream failure, so after a SERVFAIL one more server is
// tried, and a second SERVFAIL ends the search. When no server answered, the error
// reported is, by precedence, ErrServFail, ErrMalformed, ErrRefused, ErrTransport, then
// ErrTimeout.
func (c *Client) query(ctx context.Context, name string, qtype uint16) (resp *dns.Msg, server string, err error) {
	if c.observe != nil {
		start := time.Now()
		defer func() { c.observe(qtype, time.Since(start), err) }()
	}
	var errs []error
	servfails := 0
	for _, server := range c.servers {
		if err := ctxDone(ctx); err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		resp, err := c.exchange(ctx, server, name, qtype)
		if err != nil {
			if ctxErr := ctxDone(ctx); ctxErr != nil {
				return nil, "", fmt.Errorf("%w: %w", ErrTimeout, ctxErr)
			}
			errs = append(errs, fmt.Errorf("%s: %w", server, err))
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			return resp, server, nil
		case dns.RcodeServerFailure:
			errs = append(errs, fmt.Errorf("%s: %w", server, ErrServFail))
			servfails++
		case dns.RcodeRefused:
			errs = append(errs, fmt.Errorf("%s: %w", server, ErrRefused))
		default:
			// FORMERR, NOTIMP and the rest: this server cannot answer; the answer is
			// unknown, which for the callers is the same as a server failure.
			errs = append(errs, fmt.Errorf("%s: %w (rcode %s)", server, ErrServFail,
				dns.RcodeToString[resp.Rcode]))
		}
		if servfails >= 2 {
			break
		}
	}
	return nil, "", pickError(errs)
}

// ctxDone returns ctx's error, or context.DeadlineExceeded once its deadline has passed
// even if the context's own timer has not fired yet (a read deadline set to the same
// instant can expire first).
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// pickError returns the most telling of the per-server errors, keeping the others in
// the message.
func pickError(errs []error) error {
	for _, sentinel := range []error{ErrServFail, ErrMalformed, ErrRefused, ErrTransport, ErrTimeout} {
		for _, err := range errs {
			if errors.Is(err, sentinel) {
				if len(errs) == 1 {
					return err
				}
				return fmt.Errorf("%w (all servers: %v)", err, errors.Join(errs...))
			}
		}
	}
	return fmt.Errorf("%w: no server answered", ErrTimeout)
}

// exchange asks one server, over UDP and then over TCP if the UDP reply was truncated
// (RFC 7766 §5). Errors match one of the sentinels, through classify.
func (c *Client) exchange(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	resp, err := c.exchangeOver(ctx, c.udp, server, name, qtype)
	if err != nil {
		return nil, err
	}
	if !resp.Truncated {
		return resp, nil
	}
	return c.exchangeOver(ctx, c.tcp, server, name, qtype)
}

// exchangeOver sends one query with a fresh random ID and checks that the reply answers
// it. The attempt is bounded by the client timeout and by ctx's deadline, whichever comes
// first (the library sets the connection's read and write deadlines from dc.Timeout and
// ctx's deadline; dc.Timeout also bounds a TCP connect, and a UDP one cannot block), and
// is abandoned as soon as ctx is cancelled. It makes no context or timer of its own: the
// deadlines live on the connection, so a cold answer's DNS queries cost no context tree
// and no timer each (issue 19).
func (c *Client) exchangeOver(ctx context.Context, dc *dns.Client, server, name string, qtype uint16) (*dns.Msg, error) {
	m := newQuery(name, qtype, c.udpSize)
	conn, err := dc.DialContext(ctx, server)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer conn.Close()
	// The library honours the context deadline but not cancellation: closing the
	// connection unblocks the read when ctx is cancelled.
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
	}
	resp, _, err := dc.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, classify(ctx, err)
	}
	if err := matches(m, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// newQuery builds a recursive query with DNSSEC requested: RD=1, EDNS0 with the
// advertised buffer size (RFC 6891 §6.2.3), DO=1 (RFC 3225 §3) and AD=1 so that the
// resolver reports its validation result even to a client that ignores DO (RFC 6840
// §5.7). SetQuestion picks a random ID (RFC 5452 §4.3).
func newQuery(name string, qtype uint16, udpSize uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = true
	m.SetEdns0(udpSize, true)
	return m
}

// matches checks that resp is a reply to q: QR set, same ID (checked by the library
// too), same opcode, and the same single question (RFC 5452 §4.1, case-insensitive per
// RFC 4343).
func matches(q, resp *dns.Msg) error {
	switch {
	case !resp.Response:
		return fmt.Errorf("%w: QR bit not set", ErrMalformed)
	case resp.Id != q.Id:
		return fmt.Errorf("%w: ID mismatch", ErrMalformed)
	case resp.Opcode != q.Opcode:
		return fmt.Errorf("%w: opcode %d", ErrMalformed, resp.Opcode)
	case resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused:
		// Some resolvers omit the question in error replies; the ID matched.
		if len(resp.Question) == 0 {
			return nil
		}
	}
	if len(resp.Question) != 1 {
		return fmt.Errorf("%w: %d questions in reply", ErrMalformed, len(resp.Question))
	}
	a, b := resp.Question[0], q.Question[0]
	if !strings.EqualFold(a.Name, b.Name) || a.Qtype != b.Qtype || a.Qclass != b.Qclass {
		return fmt.Errorf("%w: reply to another question (%s %s)", ErrMalformed,
			a.Name, dns.TypeToString[a.Qtype])
	}
	return nil
}

// classify maps a transport error to a sentinel, so the message says what happened: a
// reply that does not parse or has the wrong ID is ErrMalformed; a refused connection (ICMP
// port unreachable on UDP, RST on TCP) is ErrRefused; a deadline that passed is
// ErrTimeout, also when the attempt's context ended first (its end closes the connection,
// so the read fails as a closed connection); anything else (reset, EOF, unreachable
// network) is ErrTransport. Each wraps the cause.
func classify(actx context.Context, err error) error {
	var dnsErr *dns.Error
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case ctxDone(actx) != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrTransport, err)
}
