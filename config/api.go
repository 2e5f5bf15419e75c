package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// API is the HTTP JSON API and the Exim readsocket line protocol: the same decisions as
// the socketmap for MTAs other than Postfix (README "Exim", "Haraka"). Both are off
// unless a listener is given.
type API struct {
	// HTTP is "host:port" of the HTTP JSON API (GET /v1/policy/{next-hop}); "" off.
	HTTP string `yaml:"http"`
	// Token is the bearer token clients must send (Authorization: Bearer …). Required
	// when HTTP is not a loopback address; when set it is required on every request.
	Token string `yaml:"token"`
	// Profile is the profile a request without ?profile= (HTTP) or with "-" (readsocket)
	// gets.
	Profile string `yaml:"profile"`
	// MaxConnections caps concurrent connections per listener; more wait in the listen
	// queue.
	MaxConnections int `yaml:"max_connections"`
	// Readsocket lists the line-protocol listeners for Exim's ${readsocket}: Unix socket
	// paths (owner/group/mode as for the socketmap) or TCP addresses.
	Readsocket []Listener `yaml:"readsocket"`
}

// HTTPLoopback says whether the HTTP listener's host is a loopback address (or
// "localhost"): only then may it run without a token.
func (a API) HTTPLoopback() bool {
	host, _, err := net.SplitHostPort(a.HTTP)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (c *Config) validateAPI(bad func(path, format string, args ...any)) {
	a := &c.API
	if a.HTTP != "" {
		if _, port, err := net.SplitHostPort(a.HTTP); err != nil {
			bad("api.http", "%q is not host:port: %v", a.HTTP, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			bad("api.http", "%q: port %q is not a number", a.HTTP, port)
		} else if a.Token == "" && !a.HTTPLoopback() {
			bad("api.token", "the HTTP API listens on %q, which is not loopback: set a bearer token", a.HTTP)
		}
	}
	if (a.HTTP != "" || len(a.Readsocket) > 0) && a.Profile != "" {
		if _, ok := c.Profiles[a.Profile]; !ok {
			bad("api.profile", "%q is not a configured profile", a.Profile)
		}
	}
	if a.MaxConnections < 0 {
		bad("api.max_connections", "must be 0 (no cap) or more")
	}
	for i, l := range a.Readsocket {
		p := fmt.Sprintf("api.readsocket.%d", i)
		switch {
		case (l.TCP == "") == (l.Unix == ""):
			bad(p, "give exactly one of tcp or unix")
		case l.TCP != "" && (l.Owner != "" || l.Group != "" || l.Mode != ""):
			bad(p, "owner, group and mode apply to unix sockets only")
		case l.Mode != "":
			if _, err := l.FileMode(); err != nil {
				bad(p+".mode", "%q is not an octal mode like \"0660\"", l.Mode)
			}
		}
	}
}
