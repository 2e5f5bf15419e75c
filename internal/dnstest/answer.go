package dnstest

import (
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// serve is the dns.Handler for both transports.
func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	s.queries++
	if len(r.Question) == 1 {
		q := r.Question[0]
		s.perQuery[modeKey{canon(q.Name), q.Qtype}]++
	}
	handler, delay := s.handler, s.delay
	s.mu.Unlock()

	if handler != nil && handler(w, r) {
		return
	}
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.stop:
			return
		}
	}
	m, ok := s.answer(r)
	if !ok {
		return // Timeout mode: no reply at all
	}
	// Truncate to what the client can take over UDP: 512 octets without EDNS0
	// (RFC 1035 §4.2.1), the advertised size with it (RFC 6891 §6.2.5); TC=1 tells the
	// client to retry over TCP (RFC 7766 §5).
	limit := dns.MaxMsgSize
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		limit = dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil && int(opt.UDPSize()) > limit {
			limit = int(opt.UDPSize())
		}
	}
	m.Truncate(limit)
	_ = w.WriteMsg(m)
}

// answer builds the reply to r, or returns false when no reply must be sent.
func (s *Server) answer(r *dns.Msg) (*dns.Msg, bool) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	opt := r.IsEdns0()
	if opt != nil {
		// Echo EDNS0 (RFC 6891 §7), and the DO bit (RFC 3225 §3).
		m.SetEdns0(dns.DefaultMsgSize, opt.Do())
	}
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeFormatError
		return m, true
	}
	q := r.Question[0]
	wantAD := r.AuthenticatedData || (opt != nil && opt.Do())

	s.mu.Lock()
	defer s.mu.Unlock()

	name := canon(q.Name)
	secure := true
	seen := map[string]bool{}
	for step := 0; ; step++ {
		mode := s.modeFor(name, q.Qtype)
		switch mode {
		case Timeout:
			return nil, false
		case Bogus:
			return failure(m, dns.RcodeServerFailure), true
		case Refused:
			return failure(m, dns.RcodeRefused), true
		case Insecure:
			secure = false
		}
		seen[name] = true
		rrs := s.records[name]
		if len(rrs) == 0 && s.synth != nil {
			rrs = s.synth(name)
		}
		if match := ofType(rrs, q.Qtype); len(match) > 0 {
			m.Answer = append(m.Answer, match...)
			break
		}
		cname := ofType(rrs, dns.TypeCNAME)
		if q.Qtype != dns.TypeCNAME && q.Qtype != dns.TypeANY && len(cname) > 0 {
			m.Answer = append(m.Answer, cname[0])
			target := canon(cname[0].(*dns.CNAME).Target)
			// A recursive resolver stops on a loop or a long chain and returns the chain
			// as far as it went; the client decides what to do with it.
			if seen[target] || step+1 >= maxChain {
				break
			}
			name = target
			continue
		}
		// Negative answer: NODATA when the name owns records or is an empty non-terminal,
		// NXDOMAIN otherwise; the SOA carries the negative TTL (RFC 2308 §3, §5).
		if len(rrs) == 0 && !s.isEmptyNonTerminal(name) {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = append(m.Ns, s.soaFor(name))
		break
	}
	m.AuthenticatedData = secure && wantAD
	return m, true
}

func failure(m *dns.Msg, rcode int) *dns.Msg {
	m.Rcode = rcode
	m.Answer, m.Ns = nil, nil
	return m
}

// modeFor returns the mode for qtype at name: the type-specific mode, else (for a CNAME
// owner) the CNAME mode, else the name's mode for type 0, else Secure. Callers hold s.mu.
func (s *Server) modeFor(name string, qtype uint16) Mode {
	if m, ok := s.modes[modeKey{name, qtype}]; ok {
		return m
	}
	if len(ofType(s.records[name], dns.TypeCNAME)) > 0 {
		if m, ok := s.modes[modeKey{name, dns.TypeCNAME}]; ok {
			return m
		}
	}
	if m, ok := s.modes[modeKey{name, 0}]; ok {
		return m
	}
	return Secure
}

// isEmptyNonTerminal reports whether name owns no records but some stored name is below
// it (RFC 8020 §2: such a name exists, so the answer is NODATA, not NXDOMAIN). Callers
// hold s.mu.
func (s *Server) isEmptyNonTerminal(name string) bool {
	return s.below[name] > 0
}

// soaFor returns the SOA for a negative answer at name: a stored SOA of the closest
// enclosing zone if the test data has one, else a synthetic one at the name's parent.
// Its TTL and MINIMUM are the configured negative TTL. Callers hold s.mu.
func (s *Server) soaFor(name string) dns.RR {
	apex := ""
	for _, off := range dns.Split(name) {
		if len(ofType(s.records[name[off:]], dns.TypeSOA)) > 0 {
			apex = name[off:]
			break
		}
	}
	if apex == "" {
		labels := dns.SplitDomainName(name)
		if len(labels) > 1 {
			apex = strings.Join(labels[1:], ".") + "."
		} else {
			apex = "."
		}
	}
	host := strings.TrimPrefix(apex, ".")
	if host == "" {
		host = "invalid."
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.negTTL},
		Ns:      "ns." + host,
		Mbox:    "hostmaster." + host,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  s.negTTL,
	}
}

func ofType(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t || t == dns.TypeANY {
			out = append(out, dns.Copy(rr))
		}
	}
	return out
}
