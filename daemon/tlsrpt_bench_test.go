package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
)

// benchDatagram is a failure datagram as Postfix 3.10 sends it (spec §1).
var benchDatagram = []byte(`{"d":"good.s.lab","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@good.s.lab","policies":[{"policy-type":2,` +
	`"policy-domain":"good.s.lab","policy-string":["version: STSv1","mode: enforce","mx: mail.good.s.lab","max_age: 86400"],` +
	`"mx-host":["mail.good.s.lab"],"failure-details":[{"c":205,"s":"127.0.0.1","n":"mail.good.s.lab",` +
	`"h":"250-mail.good.s.lab\r\n250 STARTTLS","r":"127.0.0.10","f":"self-signed_certificate"}],"t":1,"f":1}]}`)

// blast sends n datagrams (n < 0: until stop is closed) to path with sendto(2) on an
// unbound SOCK_DGRAM socket as libtlsrpt does, in libtlsrpt's blocking mode (meant for
// benchmarks: tlsrpt_set_blocking), so every datagram goes in and the sender waits while
// the socket's queue is full instead of spinning.
func blast(tb testing.TB, path string, n int, stop <-chan struct{}) int {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer syscall.Close(fd)
	to := &syscall.SockaddrUnix{Name: path}
	sent := 0
	for n < 0 || sent < n {
		select {
		case <-stop:
			return sent
		default:
		}
		err := syscall.Sendto(fd, benchDatagram, 0, to)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, syscall.EINTR):
		default:
			tb.Error(err)
			return sent
		}
	}
	return sent
}

// BenchmarkTLSRPTCollector measures, in one run: datagrams/s a bare net.ListenUnixgram
// reader that only counts absorbs (the ceiling); datagrams/s the daemon's collector
// absorbs (read, parsed, aggregated, written to its store) while the resolver serves cached
// answers at the same time; and the resolver's cached-answer rate with the collector idle
// and busy (go test -bench TLSRPTCollector ./daemon).
func BenchmarkTLSRPTCollector(b *testing.B) {
	l := lab.New(b)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example"))
	dir := b.TempDir()
	sock := filepath.Join(dir, "tlsrpt.sock")
	yaml := l.Config("", lab.FreeAddr(b), dir) + fmt.Sprintf(`
tlsrpt: {enabled: true, socket: %s, organization: Bench, contact: mailto:b@bench.example, submitter: bench.example}
`, sock)
	r := startDaemon(b, "bench.yaml", yaml)
	d, ctx := r.Daemon, r.ctx
	for d.tlsrpt.col.Addr() == "" {
		time.Sleep(10 * time.Millisecond)
	}
	d.Lookup(ctx, "postfix", "sts.example") // warm the cache

	// lookups runs cached lookups on one goroutine until stop and returns how many per second.
	lookups := func(stop <-chan struct{}) float64 {
		start, n := time.Now(), 0
		for {
			select {
			case <-stop:
				return float64(n) / time.Since(start).Seconds()
			default:
			}
			for range 64 {
				d.Lookup(ctx, "postfix", "sts.example")
			}
			n += 64
		}
	}

	b.Run("bare-reader", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bare.sock")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		conn.SetReadBuffer(4 << 20)
		var got atomic.Int64
		go func() {
			buf := make([]byte, 65536)
			for {
				if _, _, err := conn.ReadFromUnix(buf); err != nil {
					return
				}
				got.Add(1)
			}
		}()
		b.ResetTimer()
		start := time.Now()
		blast(b, path, b.N, nil)
		for got.Load() < int64(b.N) {
			runtime.Gosched()
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "datagrams/s")
	})
	b.Run("collector+lookups", func(b *testing.B) {
		stop := make(chan struct{})
		var rate float64
		var wg sync.WaitGroup
		wg.Go(func() { rate = lookups(stop) })
		b.ResetTimer()
		start := time.Now()
		blast(b, sock, b.N, nil)
		fctx, fcancel := context.WithTimeout(ctx, time.Minute)
		if err := d.tlsrpt.col.Flush(fctx); err != nil {
			b.Fatal(err)
		}
		fcancel()
		elapsed := time.Since(start)
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "datagrams/s")
		b.ReportMetric(rate, "lookups/s")
	})
	for _, busy := range []bool{false, true} {
		name := "lookups/collector-idle"
		if busy {
			name = "lookups/collector-busy"
		}
		b.Run(name, func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if busy {
				wg.Go(func() { blast(b, sock, -1, stop) })
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				d.Lookup(ctx, "postfix", "sts.example")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
			b.StopTimer()
			close(stop)
			wg.Wait()
		})
	}
}
