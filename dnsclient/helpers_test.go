package dnsclient

import (
	"net"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/dnstest"
	"github.com/miekg/dns"
)

// testTimeout is the per-attempt timeout used against the in-process servers.
const testTimeout = 300 * time.Millisecond

func newClient(t *testing.T, servers ...*dnstest.Server) *Client {
	t.Helper()
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addr)
	}
	c, err := New(Config{Servers: addrs, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// closedPort returns a loopback address where nothing listens on UDP or TCP.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// garbage replies with two bytes that are not a DNS message.
func garbage(w dns.ResponseWriter, r *dns.Msg) bool {
	_, _ = w.Write([]byte{0xde, 0xad})
	return true
}

// cutShort replies with a correct header and question but an answer cut in the middle.
func cutShort(w dns.ResponseWriter, r *dns.Msg) bool {
	m := new(dns.Msg).SetReply(r)
	rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A 192.0.2.1")
	m.Answer = append(m.Answer, rr)
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	_, _ = w.Write(b[:len(b)-3])
	return true
}

// otherQuestion replies with a well-formed answer to a different question.
func otherQuestion(w dns.ResponseWriter, r *dns.Msg) bool {
	m := new(dns.Msg).SetReply(r)
	m.Question[0].Name = "elsewhere.example."
	rr, _ := dns.NewRR("elsewhere.example. 300 IN A 192.0.2.66")
	m.Answer = append(m.Answer, rr)
	_ = w.WriteMsg(m)
	return true
}
