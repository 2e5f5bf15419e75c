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
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(socketmap.AppendNetstring(nil, []byte(name+" "+key))); err != nil {
		t.Fatal(err)
	}
	reply, err := socketmap.NewReader(bufio.NewReader(c), 100000).Next()
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return string(reply)
}
