package dnsclient

import (
	"errors"
	"net"
	"strconv"
)

// checkHostPort verifies that s is "host:port" with a numeric port.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("empty host")
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return errors.New("bad port")
	}
	return nil
}
