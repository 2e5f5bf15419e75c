package dnsclient

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// ServersFromResolvConf reads the "nameserver" lines of a resolv.conf(5) file and returns
// them as "host:53" addresses (IPv6 in brackets, with its zone if any), in file order.
// Comments (# or ;) and other options are ignored, as are nameserver lines whose
// address is not an IP literal, like the system resolver does. It fails when the file
// cannot be read or names no usable server.
func ServersFromResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dnsclient: %w", err)
	}
	defer f.Close()
	var servers []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		ip, err := netip.ParseAddr(fields[1])
		if err != nil {
			continue
		}
		servers = append(servers, net.JoinHostPort(ip.String(), "53"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dnsclient: reading %s: %w", path, err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("dnsclient: %s: no nameserver line with an IP address", path)
	}
	return servers, nil
}
