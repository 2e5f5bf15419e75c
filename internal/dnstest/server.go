package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Mode says how the server answers for a name (and optionally a type).
type Mode int

const (
	// Secure answers with AD=1 when the query had DO=1 or AD=1 (RFC 6840 §5.7).
	Secure Mode = iota
	// Insecure answers normally with AD=0.
	Insecure
	// Bogus answers SERVFAIL, what a validating resolver returns for bogus data.
	Bogus
	// Timeout sends no reply at all, over UDP or TCP.
	Timeout
	// Refused answers REFUSED.
	Refused
)

// defaultNegativeTTL is the SOA TTL and MINIMUM used for negative answers.
const defaultNegativeTTL = 300

// maxChain is how many CNAME steps the server follows before giving up and returning
// the chain as far as it went.
const maxChain = 8

type modeKey struct {
	name  string
	qtype uint16
}

// Server is a running test DNS server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is "127.0.0.1:port"; UDP and TCP listen on the same port.
	Addr string

	t      testing.TB
	udp    *dns.Server
	tcp    *dns.Server
	stop   chan struct{}
	closed sync.Once

	mu       sync.Mutex
	records  map[string][]dns.RR // by lower-case owner name
	below    map[string]int      // owner names strictly below each name (empty non-terminals)
	modes    map[modeKey]Mode
	delay    time.Duration
	negTTL   uint32
	queries  int
	perQuery map[modeKey]int
	handler  func(w dns.ResponseWriter, r *dns.Msg) bool
	synth    func(name string) []dns.RR
}

// New starts a server on a free loopback port and registers t.Cleanup to stop it.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:        t,
		stop:     make(chan struct{}),
		records:  map[string][]dns.RR{},
		below:    map[string]int{},
		modes:    map[modeKey]Mode{},
		negTTL:   defaultNegativeTTL,
		perQuery: map[modeKey]int{},
	}
	pc, ln := listenPair(t)
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	udpUp := make(chan struct{})
	tcpUp := make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(udpUp) }}
	s.tcp = &dns.Server{Listener: ln, Handler: h, NotifyStartedFunc: func() { close(tcpUp) },
		IdleTimeout: func() time.Duration { return 2 * time.Second }}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	<-udpUp
	<-tcpUp
	t.Cleanup(s.Close)
	return s
}

// listenPair binds UDP and TCP to the same free loopback port, retrying if another
// process holds the TCP side of the port the kernel picked for UDP.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: listen udp: %v", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		lastErr = err
		pc.Close()
	}
	t.Fatalf("dnstest: no port free for both UDP and TCP: %v", lastErr)
	return nil, nil
}

// Close stops the server; it is registered with t.Cleanup by New and may be called again.
func (s *Server) Close() {
	s.closed.Do(func() {
		close(s.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.udp.ShutdownContext(ctx)
		_ = s.tcp.ShutdownContext(ctx)
	})
}

// Add stores records given as zone-file lines, e.g. "mx.example. 300 IN A 192.0.2.1".
// Names are Secure unless SetMode says otherwise. A line that does not parse fails the
// test.
func (s *Server) Add(rrs ...string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range rrs {
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			s.t.Fatalf("dnstest: bad record %q: %v", line, err)
			return
		}
		name := canon(rr.Header().Name)
		rr.Header().Name = name
		if _, exists := s.records[name]; !exists {
			s.countAncestors(name, 1)
		}
		s.records[name] = append(s.records[name], rr)
	}
}

// countAncestors adds delta to the count of owner names below each proper ancestor of
// name, so a negative answer tells NODATA from NXDOMAIN without scanning every record.
// Callers hold s.mu.
func (s *Server) countAncestors(name string, delta int) {
	offs := dns.Split(name) // label starts; nil for the root, which has no ancestor
	for i := 1; i <= len(offs); i++ {
		a := "." // the last ancestor is the root
		if i < len(offs) {
			a = name[offs[i]:]
		}
		if s.below[a] += delta; s.below[a] == 0 {
			delete(s.below, a)
		}
	}
}

// Remove deletes the records of qtype at name, or every record at name when qtype is 0,
// so that a test can change data by removing it and adding the new version. Modes set
// for the name are kept.
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = canon(name)
	var kept []dns.RR
	for _, rr := range s.records[name] {
		if qtype != 0 && rr.Header().Rrtype != qtype {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		if _, exists := s.records[name]; exists {
			delete(s.records, name)
			s.countAncestors(name, -1)
		}
		return
	}
	s.records[name] = kept
}

// SetMode sets how the server answers for name; qtype 0 means every type at that name.
// A mode for a specific type takes precedence over the mode for type 0.
func (s *Server) SetMode(name string, qtype uint16, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modes[modeKey{canon(name), qtype}] = m
}

// SetDelay sets a delay before every reply (0 for none).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetNegativeTTL sets the TTL and MINIMUM of the SOA sent with NXDOMAIN and NODATA
// answers (default 300).
func (s *Server) SetNegativeTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negTTL = ttl
}

// SetHandler installs a raw override called for every query before the normal logic;
// when f returns true the query counts as handled (f wrote whatever reply it wanted, or
// none). It is meant for garbage or malformed replies. nil removes it.
func (s *Server) SetHandler(f func(w dns.ResponseWriter, r *dns.Msg) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = f
}

// SetSynth installs a source of records made on the fly: for an owner name (lower-case
// FQDN) with no stored records, f returns the records it owns, or nil. Everything else
// (modes, CNAMEs, negative answers, truncation, the AD bit) works as for stored records;
// it lets a test serve large zones (thousands of names, floods of records) without
// holding them. nil removes it.
func (s *Server) SetSynth(f func(name string) []dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synth = f
}

// Queries returns the total number of queries received, over UDP and TCP.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// QueryCount returns how many queries asked for qtype at name (case-insensitive).
func (s *Server) QueryCount(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perQuery[modeKey{canon(name), qtype}]
}

func canon(name string) string { return strings.ToLower(dns.Fqdn(name)) }
