package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ErrNoAddress is returned by DialContext when the host has no address of the wanted
// family.
var ErrNoAddress = errors.New("no address for host")

// DialContext connects to address ("host:port") like net.Dialer.DialContext, but
// resolves host through Lookup (A and AAAA), so that mailtls reaches every host through
// the configured resolver. IP literals are dialed directly. Addresses are tried in turn
// (IPv6 first); each attempt gets an equal share of the time left before ctx's deadline,
// so one black-holed address cannot use it all. network is "tcp", "tcp4" or "tcp6".
func (c *Client) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dnsclient: dial %s: %w", address, err)
	}
	want4, want6 := true, true
	switch network {
	case "tcp":
	case "tcp4":
		want6 = false
	case "tcp6":
		want4 = false
	default:
		return nil, fmt.Errorf("dnsclient: dial %s: unsupported network %q", address, network)
	}
	d := net.Dialer{Control: c.control}
	if ip, err := netip.ParseAddr(host); err == nil {
		return d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
	}

	addrs := LookupAddrs(ctx, c, host)
	var ips []netip.Addr
	for _, ip := range addrs.IPs() {
		if (ip.Is4() && want4) || (ip.Is6() && want6) {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		if err := addrs.Err(); err != nil {
			return nil, fmt.Errorf("dnsclient: dial %s: %w", address, err)
		}
		return nil, fmt.Errorf("dnsclient: dial %s: %w", address, ErrNoAddress)
	}
	var errs []error
	for i, ip := range ips {
		actx, cancel := shareDeadline(ctx, len(ips)-i)
		conn, err := d.DialContext(actx, network, net.JoinHostPort(ip.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dnsclient: dial %s: %w", address, errors.Join(errs...))
}

// shareDeadline returns a context whose deadline is 1/n of the time left before ctx's
// deadline (ctx itself when it has none or n is 1).
func shareDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/time.Duration(n))
}
