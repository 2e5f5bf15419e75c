package readsocket_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/loadgen"
	"github.com/mailtls/mailtls/socketmap"
)

// BenchmarkOneRequestPerConnection measures cached decisions per second through the
// daemon's readsocket listeners (audit log off, metrics on) the way Exim's ${readsocket}
// asks: a connection per lookup — connect, write the request line, shut the write side
// down, read the reply line to the end of the stream, close — at 1, 8 and 32 concurrent
// clients, on a Unix socket (what integrations/exim uses) and on TCP loopback. In the same
// run and with the same client, it measures the ceiling: the null line server
// (loadgen.ServeNullLine, answering the same reply line and doing nothing else); and the
// null netstring server of `mailtls bench` (loadgen.ServeNull) asked in the same
// one-request-per-connection way. The three are measured interleaved (compare);
// readsocket/null-line is the figure to read.
func BenchmarkOneRequestPerConnection(b *testing.B) {
	dir := b.TempDir()
	unixPath := filepath.Join(dir, "rs.sock")
	tcpAddr := startDaemon(b, dir, unixPath)
	targets := map[string]string{"unix": unixPath, "tcp": tcpAddr}
	const request = "postfix sts.example"

	// The reply of a cached decision, also the null servers' reply.
	var reply string
	for range 2 {
		r, err := ask(context.Background(), "unix", unixPath, request)
		if err != nil {
			b.Fatal(err)
		}
		reply = r
	}
	if !strings.HasPrefix(reply, "result=OK level=secure source=mta-sts ") {
		b.Fatalf("reply %q", reply)
	}
	lineNull := map[string]string{}
	netNull := map[string]string{}
	for _, network := range []string{"unix", "tcp"} {
		lineNull[network] = serveNull(b, network, dir, func(ln net.Listener) error { return loadgen.ServeNullLine(ln, strings.TrimSuffix(reply, "\n")) })
		netNull[network] = serveNull(b, network, dir, func(ln net.Listener) error { return loadgen.ServeNull(ln, strings.TrimSuffix(reply, "\n")) })
	}
	for _, network := range []string{"unix", "tcp"} {
		for _, clients := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/clients=%d", network, clients), func(b *testing.B) {
				compare(b, clients, map[string]func(context.Context) error{
					"null-netstring": func(ctx context.Context) error { return askNetstring(ctx, network, netNull[network], request, reply) },
					"null-line":      func(ctx context.Context) error { return askLine(ctx, network, lineNull[network], request, reply) },
					"readsocket":     func(ctx context.Context) error { return askLine(ctx, network, targets[network], request, reply) },
				})
			})
		}
	}
}

// startDaemon runs a daemon with readsocket listeners on unixPath and a TCP port (which
// it returns), answering for the lab's MTA-STS domain sts.example.
func startDaemon(b *testing.B, dir, unixPath string) string {
	l := lab.New(b)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example", "*.mail.sts.example"))
	tcpAddr, metrics := lab.FreeAddr(b), lab.FreeAddr(b)
	yaml := l.Config("", lab.FreeAddr(b), dir) + fmt.Sprintf(`
metrics: {listen: %q}
api: {readsocket: [{unix: %q}, {tcp: %q}]}
`, metrics, unixPath, tcpAddr)
	cfg, err := config.Parse([]byte(yaml), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", unixPath); err == nil {
			c.Close()
			return tcpAddr
		}
		if time.Now().After(deadline) {
			b.Fatal("readsocket listener not up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serveNull(b *testing.B, network, dir string, serve func(net.Listener) error) string {
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(dir, fmt.Sprintf("null-%d.sock", time.Now().UnixNano()))
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln) }()
	b.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			b.Errorf("null server: %v", err)
		}
	})
	return ln.Addr().String()
}

// ask does what Exim's ${readsocket} does for one lookup and returns the reply.
func ask(ctx context.Context, network, addr, request string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request+"\n"); err != nil {
		return "", err
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// askLine asks one request on a connection of its own and checks the reply.
func askLine(ctx context.Context, network, addr, request, want string) error {
	got, err := ask(ctx, network, addr, request)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("reply %q, want %q", got, want)
	}
	return nil
}

// askNetstring asks one socketmap request ("profile key") on a connection of its own.
func askNetstring(ctx context.Context, network, addr, request, want string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(socketmap.AppendNetstring(nil, []byte(request))); err != nil {
		return err
	}
	got, err := socketmap.NewReader(c, socketmap.DefaultMaxRequest).Next()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, []byte(strings.TrimSuffix(want, "\n"))) {
		return fmt.Errorf("reply %q", got)
	}
	return nil
}

// compare sends b.N requests to each target, interleaved in blocks (the machine's load
// swings within seconds; the order of the targets rotates from block to block), and
// reports each one's requests per second over its own blocks and the ratios of readsocket
// to the null servers.
func compare(b *testing.B, clients int, targets map[string]func(context.Context) error) {
	names := []string{"null-netstring", "null-line", "readsocket"}
	spent := map[string]time.Duration{}
	block := 50 * clients
	b.ReportAllocs()
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(block, b.N-done)
		for i := range names {
			name := names[(i+round)%len(names)]
			spent[name] += send(b, clients, n, targets[name])
		}
		done += n
	}
	b.StopTimer()
	rate := func(name string) float64 { return float64(b.N) / spent[name].Seconds() }
	for _, name := range names {
		b.ReportMetric(rate(name), name+"-req/s")
	}
	b.ReportMetric(rate("readsocket")/rate("null-line"), "readsocket/null-line")
	b.ReportMetric(rate("readsocket")/rate("null-netstring"), "readsocket/null-netstring")
}

// send makes n requests spread over clients goroutines and returns how long they took.
func send(b *testing.B, clients, n int, do func(context.Context) error) time.Duration {
	ctx := context.Background()
	var left atomic.Int64
	left.Store(int64(n))
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := do(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return d
}
