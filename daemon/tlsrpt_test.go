package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
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
	cfg, err := config.Parse([]byte(yaml), "tlsrpt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
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
