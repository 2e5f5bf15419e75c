package loadgen

import (
	"io"
	"net"
	"testing"
)

// The null line server answers one fixed line per connection, whether the request ends
// in a newline or in the client's shutdown, and closes; a client that asks nothing gets
// nothing.
func TestServeNullLine(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		ln := listen(t, network)
		done := make(chan error, 1)
		go func() { done <- ServeNullLine(ln, "result=OK level=secure") }()
		for _, req := range []string{"postfix sts.example\n", "sts.example", ""} {
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(c, req)
			if req != "postfix sts.example\n" {
				closeWrite(t, c)
			}
			got, err := io.ReadAll(c)
			c.Close()
			want := "result=OK level=secure\n"
			if req == "" {
				want = ""
			}
			if err != nil || string(got) != want {
				t.Errorf("%s %q: got %q (%v), want %q", network, req, got, err, want)
			}
		}
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeNullLine: %v", err)
		}
	}
}

func closeWrite(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}
