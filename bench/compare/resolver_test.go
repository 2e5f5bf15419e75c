package compare

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// startResolver runs Unbound on 127.0.0.1:53, where the peer's resolver (c-ares, reading
// resolv.conf) sends its queries, as a caching forwarder to the lab's DNS server at
// upstream. A Postfix host runs such a local resolver; it also keeps the lab's DNS server,
// written for tests rather than speed, out of the peer's figures: the peer does not cache
// "no policy" and asks DNS for every such request, and Unbound answers those from its
// cache. Validation is off (iterator only); the peer does not look at the AD bit.
func startResolver(t *testing.T, bin, upstream string) *resolver {
	t.Helper()
	host, port, err := net.SplitHostPort(upstream)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: 53
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "%[1]s"
  pidfile: "%[1]s/unbound.pid"
  use-syslog: no
  verbosity: 0
  module-config: "iterator"
  qname-minimisation: no
  extended-statistics: yes
remote-control:
  control-enable: yes
  control-interface: "%[1]s/unbound.ctl"
  control-use-cert: no
forward-zone:
  name: "."
  forward-addr: %[2]s@%[3]s
`, dir, host, port)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return &resolver{proc: startProc(t, "unbound", "127.0.0.1:53", nil, bin, "-d", "-c", path),
		control: filepath.Join(filepath.Dir(bin), "unbound-control"), conf: path}
}

// resolver is the running Unbound.
type resolver struct {
	*proc
	control, conf string
}

// typeCounts is Unbound's queries by type so far, for the log (num.query.type.*).
func (r *resolver) typeCounts() string {
	out, err := exec.Command(r.control, "-c", r.conf, "stats_noreset").Output()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(line, "num.query.type."); ok {
			b.WriteString(strings.TrimSpace(v) + " ")
		}
	}
	return b.String()
}

// queries is how many queries Unbound has received (total.num.queries), or -1 when its
// statistics cannot be read.
func (r *resolver) queries() int {
	out, err := exec.Command(r.control, "-c", r.conf, "stats_noreset").Output()
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total.num.queries="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}
