package loadgen

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/socketmap"
)

// BenchmarkPipelined measures loopback connections keeping `depth` requests in flight, one
// to the null server and one to socketmap.Server with a handler that answers the same fixed
// reply at once. The two are driven in alternating rounds of pipelineRound requests inside
// every benchmark run, so both see the same machine load (this machine is shared and noisy)
// and each run yields a same-run ratio:
//
//	null-ns/req, server-ns/req   time per request, each server alone on its connection
//	x-null                       the server's rate ÷ the null server's rate
//
// A writer goroutine keeps the window full (one write per batch of freed slots, as a
// pipelining client does) while the reader takes the replies in order. The difference
// between the two servers is what socketmap.Server adds per request when requests arrive in
// batches: reading and framing, idle tracking, deadlines, batching the replies.
//
//	go test -run '^$' -bench Pipelined -count 5 ./internal/loadgen
func BenchmarkPipelined(b *testing.B) {
	const reply = "OK secure match=mx.example.com servername=hostname"
	for _, depth := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("x%d", depth), func(b *testing.B) {
			null := listenBench(b)
			go ServeNull(null, reply)
			srvLn := listenBench(b)
			s := &socketmap.Server{Handler: socketmap.HandlerFunc(func(context.Context, string, string) string { return reply }), RequestTimeout: -1}
			b.Cleanup(func() { s.Shutdown(context.Background()) })
			go s.Serve(srvLn)
			nc, sc := dialBench(b, null), dialBench(b, srvLn)
			nullConn, srvConn := null.accepted(b), srvLn.accepted(b)
			req := socketmap.AppendNetstring(nil, []byte("postfix example.com"))
			var tNull, tSrv time.Duration
			b.ResetTimer()
			for left := b.N; left > 0; {
				k := min(left, pipelineRound)
				tNull += pipelineLoad(b, nc, req, k, depth)
				tSrv += pipelineLoad(b, sc, req, k, depth)
				left -= k
			}
			b.StopTimer()
			b.ReportMetric(float64(tNull)/float64(b.N), "null-ns/req")
			b.ReportMetric(float64(tSrv)/float64(b.N), "server-ns/req")
			b.ReportMetric(float64(tNull)/float64(tSrv), "x-null")
			b.ReportMetric(float64(nullConn.writes.Load())/float64(b.N), "null-writes/req")
			b.ReportMetric(float64(srvConn.writes.Load())/float64(b.N), "server-writes/req")
		})
	}
}

// pipelineRound is how many requests each server gets before the other's turn: enough
// for the window to reach its steady state, short enough that both see the same load.
const pipelineRound = 2000

// countListener hands out its connections wrapped in a write counter, so the benchmark can
// report how many writes each server made per request (its batching).
type countListener struct {
	net.Listener
	conns chan *countedConn
}

type countedConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countedConn{Conn: c}
	select {
	case l.conns <- cc:
	default:
	}
	return cc, nil
}

// accepted returns the server's end of the connection dialled to l.
func (l *countListener) accepted(b *testing.B) *countedConn {
	select {
	case c := <-l.conns:
		return c
	case <-time.After(5 * time.Second):
		b.Fatal("no connection accepted")
		return nil
	}
}

func listenBench(b *testing.B) *countListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	return &countListener{Listener: ln, conns: make(chan *countedConn, 1)}
}

type benchConn struct {
	c net.Conn
	r *socketmap.Reader
}

func dialBench(b *testing.B, ln *countListener) *benchConn {
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &benchConn{c: c, r: socketmap.NewReader(c, socketmap.DefaultMaxReply)}
}

// pipelineLoad sends n requests req on bc with up to depth in flight, reads every reply,
// and returns how long that took.
func pipelineLoad(b *testing.B, bc *benchConn, req []byte, n, depth int) time.Duration {
	start := time.Now()
	// credits holds one token per free slot of the window; the writer takes every token
	// available, writes that many requests in one write, and waits for more.
	credits := make(chan struct{}, depth)
	for range depth {
		credits <- struct{}{}
	}
	werr := make(chan error, 1)
	go func() {
		batch := make([]byte, 0, depth*len(req))
		for sent := 0; sent < n; {
			<-credits
			k := 1
		more:
			for k < depth && sent+k < n {
				select {
				case <-credits:
					k++
				default:
					break more
				}
			}
			batch = batch[:0]
			for range k {
				batch = append(batch, req...)
			}
			if _, err := bc.c.Write(batch); err != nil {
				werr <- err
				return
			}
			sent += k
		}
		werr <- nil
	}()
	for range n {
		if _, err := bc.r.Next(); err != nil {
			b.Fatal(err)
		}
		select {
		case credits <- struct{}{}:
		default:
		}
	}
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
