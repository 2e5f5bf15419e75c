package socketmap

import (
	"context"
	"testing"
)

// BenchmarkServerRoundTrip measures one connection doing strict request→reply round trips
// over loopback TCP, with a handler that answers at once.
func BenchmarkServerRoundTrip(b *testing.B) {
	h := HandlerFunc(func(context.Context, string, string) string { return "OK secure match=.example.com" })
	addr := startServer(b, &Server{Handler: h}, "tcp")
	cl := dial(b, addr)
	req := AppendNetstring(nil, []byte("sts mail.example.com"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := cl.c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := cl.r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
