package loadgen

import (
	"bufio"
	"context"
	"net"
	"testing"

	"github.com/mailtls/mailtls/socketmap"
)

// BenchmarkRoundTrip measures one connection doing strict request→reply round trips over
// loopback against the null server and against socketmap.Server with a handler that
// answers the same fixed reply at once: the difference is the server's own per-request
// cost (deadlines, idle tracking, request parsing), which every mailtls answer pays.
func BenchmarkRoundTrip(b *testing.B) {
	const reply = "OK secure match=mx.example.com servername=hostname"
	servers := map[string]func(b *testing.B, ln net.Listener){
		"null": func(_ *testing.B, ln net.Listener) { go ServeNull(ln, reply) },
		"socketmap.Server": func(b *testing.B, ln net.Listener) {
			s := &socketmap.Server{Handler: socketmap.HandlerFunc(func(context.Context, string, string) string { return reply }), RequestTimeout: -1}
			b.Cleanup(func() { s.Shutdown(context.Background()) })
			go s.Serve(ln)
		},
	}
	for _, name := range []string{"null", "socketmap.Server"} {
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			servers[name](b, ln)
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := socketmap.NewReader(bufio.NewReader(c), socketmap.DefaultMaxReply)
			req := socketmap.AppendNetstring(nil, []byte("postfix example.com"))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
