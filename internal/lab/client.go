package lab

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/mailtls/mailtls/socketmap"
)

// FreeAddr returns a loopback TCP address that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Query sends one socketmap request "name key" to addr on a new connection, as Postfix
// does, and returns the reply payload.
func Query(t testing.TB, addr, name, key string) string {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reply, err := c.Ask(name, key)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return reply
}

// Conn is one persistent socketmap connection, used as Postfix uses one: each request waits
// for its reply before the next is sent. It is not safe for concurrent use.
type Conn struct {
	c   net.Conn
	r   *socketmap.Reader
	req []byte
}

// Dial opens a socketmap connection to the TCP address addr.
func Dial(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, r: socketmap.NewReader(bufio.NewReader(c), socketmap.DefaultMaxReply)}, nil
}

// Ask sends "name key" and returns the reply payload; the exchange must finish within 30 s.
func (c *Conn) Ask(name, key string) (string, error) {
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	c.req = socketmap.AppendNetstring(c.req[:0], []byte(name+" "+key))
	if _, err := c.c.Write(c.req); err != nil {
		return "", err
	}
	reply, err := c.r.Next()
	return string(reply), err
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }
