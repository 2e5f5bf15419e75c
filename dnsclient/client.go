package dnsclient

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Defaults for Config fields left zero.
const (
	// DefaultTimeout bounds one attempt (one server, one transport).
	DefaultTimeout = 2 * time.Second
	// DefaultUDPSize is the EDNS0 buffer size advertised in queries: the DNS flag day
	// 2020 value, small enough to avoid IP fragmentation on practically every path
	// (the concern of RFC 9715); larger answers come over TCP.
	DefaultUDPSize = 1232
	// maxCNAMEs is how many CNAME steps Lookup follows before giving up.
	maxCNAMEs = 8
	// defaultNegativeTTL is used for a negative answer that carries no SOA.
	defaultNegativeTTL = 60
)

// ErrBadName is returned (inside a LookupError) when the name asked is not a valid
// domain name; no query is sent.
var ErrBadName = errors.New("invalid domain name")

// Config says which resolvers a Client asks and how.
type Config struct {
	// Servers are "host:port" addresses of validating recursive resolvers, tried in
	// order. They must be trusted, and the path to them secure (e.g. loopback), because
	// the client believes their AD bit (RFC 7672 §2.1, RFC 6698 §4.1, RFC 4035 §4.9.3).
	Servers []string
	// Timeout bounds each attempt (one server, one transport); default DefaultTimeout.
	Timeout time.Duration
	// UDPSize is the EDNS0 buffer size advertised (RFC 6891 §6.2.3); default
	// DefaultUDPSize. Values below 512 are raised to 512.
	UDPSize uint16
	// Observe, if set, is called after every question put to the servers (one per CNAME
	// step), with its type, how long the answer took and the error, if any: for metrics.
	Observe func(qtype uint16, elapsed time.Duration, err error)
	// DialControl, if set, is the net.Dialer Control function of DialContext: it sees the
	// address actually connected to and may refuse it (mailtls's SSRF guard).
	DialControl func(network, address string, c syscall.RawConn) error
}

// Client is a DNSSEC-aware stub resolver in front of configured validating resolvers.
// It keeps no cache and is safe for concurrent use.
//
// Trust model: the Client does not validate DNSSEC itself. It sets DO=1 (RFC 3225) and
// AD=1 (RFC 6840 §5.7) in every query and reports Result.Secure from the AD bit of the
// replies. That is only meaningful because the servers are configured by the operator as
// validating resolvers reached over a trusted path (RFC 7672 §2.1); CheckValidation
// verifies at start-up that they do validate.
type Client struct {
	servers []string
	timeout time.Duration
	udpSize uint16
	udp     *dns.Client
	tcp     *dns.Client
	observe func(qtype uint16, elapsed time.Duration, err error)
	control func(network, address string, c syscall.RawConn) error
}

// New returns a Client for cfg. It fails when no server is given or a server address is
// not "host:port".
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("dnsclient: no resolver configured")
	}
	for _, s := range cfg.Servers {
		if err := checkHostPort(s); err != nil {
			return nil, fmt.Errorf("dnsclient: server %q: %w", s, err)
		}
	}
	c := &Client{
		servers: append([]string(nil), cfg.Servers...),
		timeout: cfg.Timeout,
		udpSize: cfg.UDPSize,
		observe: cfg.Observe,
		control: cfg.DialControl,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.udpSize == 0 {
		c.udpSize = DefaultUDPSize
	}
	if c.udpSize < dns.MinMsgSize {
		c.udpSize = dns.MinMsgSize
	}
	// A UDP "connect" only binds the socket and cannot block, so its dialer has no timeout
	// (one would cost a context and a timer per query); the reply is bounded by Timeout.
	c.udp = &dns.Client{Net: "udp", UDPSize: c.udpSize, Timeout: c.timeout, Dialer: &net.Dialer{}}
	c.tcp = &dns.Client{Net: "tcp", Timeout: c.timeout}
	return c, nil
}

// Servers returns the configured resolver addresses, in the order they are tried.
func (c *Client) Servers() []string { return append([]string(nil), c.servers...) }
