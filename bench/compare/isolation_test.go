package compare

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

// isolated checks that the run is in a network namespace with loopback only, and that
// resolv.conf sends programs to 127.0.0.1 (where the lab's DNS server listens), so that
// neither daemon can reach anything else.
func isolated() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("interface %s is up: run inside a namespace with loopback only (scripts/compare.sh)", i.Name)
		}
	}
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return err
	}
	defer f.Close()
	var servers []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "nameserver" {
			servers = append(servers, fs[1])
		}
	}
	if len(servers) != 1 || servers[0] != "127.0.0.1" {
		return fmt.Errorf("/etc/resolv.conf names %v, want only 127.0.0.1 (scripts/compare.sh sets it for the namespace)", servers)
	}
	return nil
}
