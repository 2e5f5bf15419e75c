package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// validateDeployment checks what `serve` would otherwise stumble on at start-up, or run
// with in a way nobody meant: addresses that cannot be bound (bad or zero ports, the same
// address twice), paths that would depend on the working directory (systemd starts the
// service in /), and sizes whose zero means "unbounded".
func (c *Config) validateDeployment(bad func(path, format string, args ...any)) {
	seen := map[string]string{} // address or socket path → the key that uses it
	claim := func(key, addr string) {
		if prev, ok := seen[addr]; ok {
			bad(key, "%s is also used by %s: two listeners cannot bind one address", addr, prev)
			return
		}
		seen[addr] = key
	}
	for i, l := range c.Listen.Socketmap {
		p := fmt.Sprintf("listen.socketmap.%d", i)
		switch {
		case l.TCP != "":
			if a, err := listenAddr(l.TCP); err != nil {
				bad(p+".tcp", "%v", err)
			} else {
				claim(p+".tcp", a)
			}
		case l.Unix != "":
			if !filepath.IsAbs(l.Unix) {
				bad(p+".unix", "%q is not an absolute path", l.Unix)
			} else {
				claim(p+".unix", filepath.Clean(l.Unix))
			}
		}
	}
	if c.Metrics.Listen != "" {
		if a, err := listenAddr(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "%v", err)
		} else {
			claim("metrics.listen", a)
		}
	}
	for _, f := range []struct{ key, path string }{
		{"state_dir", c.StateDir},
		{"resolver.resolv_conf", c.Resolver.ResolvConf},
		{"mta_sts.ca_file", c.MTASTS.CAFile},
		{"cache.path", c.Cache.Path},
		{"listen.control", c.Listen.Control},
		{"asn.database", c.ASN.Database},
		{"audit.file", c.Audit.File},
	} {
		if f.path != "" && f.path != "-" && !filepath.IsAbs(f.path) {
			bad(f.key, "%q is not an absolute path (the service runs in /, not in this directory)", f.path)
		}
	}
	if c.Cache.MaxEntries == 0 {
		bad("cache.max_entries", "must be at least 1 (0 would leave the in-memory cache unbounded)")
	}
}

// listenAddr checks a "host:port" to listen on: a port 1-65535 given as a number, and a
// host that is an IP address, "localhost" or empty (every address). It returns the
// address normalised for duplicate detection.
func listenAddr(s string) (string, error) {
	host, port, err := splitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	switch {
	case host == "", host == "localhost":
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return "", fmt.Errorf("%q: host %q is not an IP address or localhost", s, host)
		}
		host = ip.String()
	}
	return host + ":" + strconv.Itoa(n), nil
}

func splitHostPort(s string) (host, port string, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", errors.New("missing port")
	}
	host, port = s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", "", errors.New("IPv6 address without brackets")
	}
	return host, port, nil
}

// CheckFiles checks the configuration against this machine's file system: the
// directories and files `serve` needs and does not create itself must exist. `config check`
// and `serve` both run it; Load does not, so a configuration can be parsed anywhere.
func (c *Config) CheckFiles() error {
	var errs Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, &Error{File: c.Source, Line: lineOf(c.lines, path), Msg: path + ": " + fmt.Sprintf(format, args...)})
	}
	isDir := func(key, dir, what string) {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad(key, "directory %s does not exist (%s)", dir, what)
		case err != nil:
			bad(key, "%v", err)
		case !fi.IsDir():
			bad(key, "%s is not a directory", dir)
		}
	}
	if f := c.Audit.File; f != "" && f != "-" && filepath.IsAbs(f) {
		isDir("audit.file", filepath.Dir(f), "the audit log is opened there; the package creates /var/log/mailtls")
	}
	if len(c.Resolver.Servers) == 0 && filepath.IsAbs(c.Resolver.ResolvConf) {
		if _, err := os.Stat(c.Resolver.ResolvConf); err != nil {
			bad("resolver.resolv_conf", "no resolver.servers given and %v", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sortByLine(errs)
	return errs
}
