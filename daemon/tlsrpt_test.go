package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// Issue 16: with tlsrpt enabled, serve listens on the datagram socket (mode as
// configured), counts a libtlsrpt datagram, records the resolver's own MTA-STS fetch
// failure for a domain publishing TLSRPT, and shows both in /metrics and the store.
func TestServeCollectsTLSRPT(t *testing.T) {
	l := lab.New(t)
	l.STS("broken.example", "1", "") // the policy host answers 404: sts-policy-fetch-error
	l.DNS.Add(`_smtp._tls.broken.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@broken.example"`)
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "tlsrpt.sock")
	os.MkdirAll(filepath.Dir(sock), 0o755)
	o := &opsLab{addr: lab.FreeAddr(t), metrics: lab.FreeAddr(t)}
	yaml := l.Config("", o.addr, dir) + fmt.Sprintf(`
metrics: {listen: "%s"}
tlsrpt:
  enabled: true
  socket: %s
  mode: "0622"
  organization: Test Org
  contact: mailto:pm@sender.example
  submitter: sender.example
`, o.metrics, sock)
	r := startDaemon(t, "tlsrpt.yaml", yaml)
	d, stop := r.Daemon, r.stop
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode().Perm() == 0o622 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("collector socket not there with mode 0622")
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte(`{"d":"good.example","pr":"v=TLSRPTv1; rua=https://r.good.example/","policies":[{"policy-type":9,"t":0,"f":0}]}`))
	conn.Write([]byte(`garbage`))
	conn.Close()
	if got := d.Lookup(context.Background(), "postfix", "broken.example"); got == "" {
		t.Fatal("no answer")
	}
	want := map[string]float64{"mailtls_tlsrpt_datagrams_received_total": 2, "mailtls_tlsrpt_observations_total": 1,
		`mailtls_tlsrpt_datagrams_rejected_total{reason="json"}`: 1}
	for {
		_, body := o.scrape(t, "/metrics")
		ok := true
		for k, v := range want {
			m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + ` (\S+)$`).FindStringSubmatch(body)
			if m == nil {
				ok = false
				break
			}
			if f, _ := strconv.ParseFloat(m[1], 64); f != v {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never reached %v", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop() // flushes the collector into the store
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	st, err := store.Open(filepath.Join(dir, "tlsrpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	groups, err := st.Day(context.Background(), time.Now().UTC().Format(time.DateOnly))
	if err != nil || len(groups) != 2 || groups[0].Domain != "broken.example" || groups[0].Policies[0].Counts.Failed != 1 ||
		groups[1].Domain != "good.example" || groups[1].Policies[0].Counts.OK != 1 {
		t.Fatalf("store: %+v %v", groups, err)
	}
}

// Issue 16: a burst of 100 000 datagrams (sent as libtlsrpt sends them, resent after
// EAGAIN) while a goroutine keeps the resolver answering cached lookups as fast as it can:
// every datagram the socket accepted is in the store, and the lookups kept being answered.
// (One CPU-bound lookup goroutine, not more: on this 2-core machine goroutines that never
// block would hold both Ps, and the socket reader, woken through the netpoller, would get
// the CPU only every ~10 ms; the daemon's real socketmap work blocks on I/O.)
func TestServeTLSRPTBurstUnderLoad(t *testing.T) {
	l := lab.New(t)
	l.STS("sts.example", "1", lab.Policy("enforce", 86400, "mx.sts.example"))
	dir := t.TempDir()
	sock := filepath.Join(dir, "tlsrpt.sock")
	yaml := l.Config("", lab.FreeAddr(t), dir) + fmt.Sprintf(`
tlsrpt: {enabled: true, socket: %s, organization: T, contact: mailto:t@t.example, submitter: t.example}
`, sock)
	r := startDaemon(t, "burst.yaml", yaml)
	d, ctx := r.Daemon, r.ctx
	for d.tlsrpt.col.Addr() == "" {
		time.Sleep(10 * time.Millisecond)
	}
	want := "OK secure match=mx.sts.example servername=hostname"
	if got := d.Lookup(ctx, "postfix", "sts.example"); got != want {
		t.Fatalf("lookup %q", got)
	}
	stop := make(chan struct{})
	var lookups atomic.Int64
	var wg sync.WaitGroup
	for range 1 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if got := d.Lookup(ctx, "postfix", "sts.example"); got != want {
					t.Errorf("lookup under load: %q", got)
					return
				}
				lookups.Add(1)
			}
		})
	}
	const n = 100000
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	to := &syscall.SockaddrUnix{Name: sock}
	eagain := 0
	for sent := 0; sent < n; {
		switch err := syscall.Sendto(fd, benchDatagram, syscall.MSG_DONTWAIT, to); {
		case err == nil:
			sent++
		case errors.Is(err, syscall.EAGAIN):
			eagain++ // libtlsrpt would lose it; the burst sends it again
			time.Sleep(100 * time.Microsecond)
		default:
			t.Fatal(err)
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer fcancel()
	if err := d.tlsrpt.col.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	groups, err := d.tlsrpt.st.Day(ctx, time.Now().UTC().Format(time.DateOnly))
	if err != nil || len(groups) != 1 || groups[0].Policies[0].Counts.Failed != n {
		t.Fatalf("store after %d datagrams: %+v %v", n, groups, err)
	}
	if lookups.Load() == 0 {
		t.Fatal("no lookup answered during the burst")
	}
	t.Logf("%d datagrams counted (%d EAGAIN resends); %d cached lookups answered meanwhile", n, eagain, lookups.Load())
}
