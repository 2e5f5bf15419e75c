package compare

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// peerConfig is the mta-sts-daemon configuration for the comparison, in its YAML format
// (mta-sts-daemon.yml(5)). Each choice gives the peer its fastest cached path:
//   - cache type internal: its in-memory LRU (the package's shipped file says sqlite),
//     sized above the workload so nothing is evicted;
//   - cache_grace 86400: a cached policy younger than this is answered without a DNS
//     query; the default (60 s) would make it re-query the TXT record of every policy
//     domain each minute of the run;
//   - proactive policy fetching off (its default), so nothing runs in the background;
//   - reuse_port true (its default): 1.1.2 fails to start with false;
//   - default_zone as shipped (timeout 4, strict_testing false, require_sni true).
func peerConfig(addr string, cacheSize int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`host: %s
port: %s
reuse_port: true
shutdown_timeout: 2
cache_grace: 86400
cache:
  type: internal
  options:
    cache_size: %d
proactive_policy_fetching:
  enabled: false
default_zone:
  strict_testing: false
  timeout: 4
  require_sni: true
`, host, port, cacheSize), nil
}

// startPeer runs mta-sts-daemon on addr. Its resolver (c-ares) reads /etc/resolv.conf,
// which the namespace points at the lab's DNS server on 127.0.0.1:53; SSL_CERT_FILE makes
// Python's default TLS context trust the lab CA, and no proxy variable is passed.
func startPeer(t *testing.T, bin, addr, caFile string, cacheSize int) *proc {
	t.Helper()
	cfg, err := peerConfig(addr, cacheSize)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mta-sts-daemon.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "mta-sts-daemon", addr, []string{"SSL_CERT_FILE=" + caFile},
		bin, "-c", path, "-v", "warn")
}
