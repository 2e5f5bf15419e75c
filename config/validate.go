package config

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validate checks every value and returns all problems, each with its line when the value
// came from the file (values from the embedded default have no line).
func (c *Config) validate(file string, lines map[string]int) Errors {
	var errs Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: lineOf(lines, path), Msg: path + ": " + fmt.Sprintf(format, args...)})
	}
	oneOf := func(path, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	within := func(path string, d Duration, lo, hi time.Duration) {
		if d.D() < lo || d.D() > hi {
			bad(path, "%s is outside %s..%s", d, lo, hi)
		}
	}

	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")

	for i, s := range c.Resolver.Servers {
		if _, err := netip.ParseAddrPort(s); err != nil {
			bad(fmt.Sprintf("resolver.servers.%d", i), "%q is not an IP:port address (IPv6 as [::1]:53)", s)
		}
	}
	within("resolver.timeout", c.Resolver.Timeout, 100*time.Millisecond, 30*time.Second)

	if c.DANE.CheckSigned == "" || c.DANE.CheckBogus == "" {
		bad("dane", "check_signed and check_bogus are both needed")
	}

	// Postfix abandons a policy lookup after 100 s; a fetch must end well before.
	within("mta_sts.fetch_timeout", c.MTASTS.FetchTimeout, time.Second, 60*time.Second)
	if c.MTASTS.MaxBody < 1024 || c.MTASTS.MaxBody > 1<<20 {
		bad("mta_sts.max_body", "%d is outside 1024..1048576 bytes", c.MTASTS.MaxBody)
	}
	if c.MTASTS.CAFile != "" {
		if _, err := os.Stat(c.MTASTS.CAFile); err != nil {
			bad("mta_sts.ca_file", "%v", err)
		}
	}
	for i, a := range c.MTASTS.AllowAddresses {
		if _, err := parsePrefix(a); err != nil {
			bad(fmt.Sprintf("mta_sts.allow_addresses.%d", i), "%q is not an address or prefix like 10.0.0.0/8", a)
		}
	}
	within("mta_sts.failure_retry", c.MTASTS.FailureRetry, 0, 24*time.Hour)
	within("mta_sts.refresh_interval", c.MTASTS.RefreshInterval, time.Hour, 31*24*time.Hour)
	// conformance.md §4: the TXT record's TTL as published, "no floor beyond a few seconds".
	within("mta_sts.txt_ttl_min", c.MTASTS.TXTTTLMin, time.Second, 10*time.Second)

	if c.Cache.MaxEntries < 0 {
		bad("cache.max_entries", "must not be negative")
	}
	if c.Cache.MaxBytes != 0 && c.Cache.MaxBytes < 1<<20 {
		bad("cache.max_bytes", "%d is below 1048576 (1 MiB); 0 means no byte budget", c.Cache.MaxBytes)
	}
	if c.Cache.GCHeadroom != 0 && c.Cache.GCHeadroom < 1<<20 {
		bad("cache.gc_headroom", "%d is below 1048576 (1 MiB); 0 leaves the collector's pacing to Go", c.Cache.GCHeadroom)
	}
	oneOf("cache.store", c.Cache.Store, "sqlite", "none")
	if c.Cache.NegativeTTLMin > c.Cache.NegativeTTLMax {
		bad("cache.negative_ttl_min", "%s is above negative_ttl_max %s", c.Cache.NegativeTTLMin, c.Cache.NegativeTTLMax)
	}

	if c.Listen.MaxConnections < 0 {
		bad("listen.max_connections", "must not be negative")
	}
	within("listen.idle_timeout", c.Listen.IdleTimeout, time.Second, time.Hour)
	within("listen.partial_request_timeout", c.Listen.PartialRequestTimeout, 100*time.Millisecond, time.Minute)
	if len(c.Listen.Socketmap) == 0 {
		bad("listen.socketmap", "at least one listener is needed")
	}
	for i, l := range c.Listen.Socketmap {
		p := fmt.Sprintf("listen.socketmap.%d", i)
		switch {
		case (l.TCP == "") == (l.Unix == ""):
			bad(p, "give exactly one of tcp or unix")
		case l.TCP != "":
			if l.Owner != "" || l.Group != "" || l.Mode != "" {
				bad(p, "owner, group and mode apply to unix sockets only")
			}
		default:
			if l.Mode != "" {
				if _, err := l.FileMode(); err != nil {
					bad(p+".mode", "%q is not an octal mode like \"0660\"", l.Mode)
				}
			}
		}
	}

	c.validateOverrides(bad)
	c.validateDeployment(bad)
	c.validateHosting(bad)
	c.validateTLSRPT(bad)
	c.validateTLSRPTReceiver(bad)
	c.validateAPI(bad)

	if len(c.ASN.Rules) > 0 && c.ASN.Database == "" {
		bad("asn.database", "ASN rules need an IP-to-ASN database (.mmdb or ip2asn TSV)")
	}
	if c.ASN.Database != "" {
		if _, err := os.Stat(c.ASN.Database); err != nil {
			bad("asn.database", "%v", err)
		}
	}
	for i, r := range c.ASN.Rules {
		p := fmt.Sprintf("asn.rules.%d", i)
		if len(r.ASNs) == 0 {
			bad(p+".asns", "list at least one AS number")
		}
		switch r.Level {
		case "encrypt", "verify", "secure":
		default:
			bad(p+".level", "%q is not one of encrypt, verify, secure", r.Level)
		}
	}

	if c.Audit.HashDomains && len(c.Audit.HashKey) < 16 {
		bad("audit.hash_key", "hash_domains needs a secret hash_key of at least 16 characters")
	}

	for _, name := range slices.Sorted(maps.Keys(c.Profiles)) {
		pr, p := c.Profiles[name], "profiles."+name
		if name == "" || strings.ContainsAny(name, " \t\r\n") {
			bad(p, "a profile name is a socketmap map name: non-empty, without spaces")
		}
		oneOf(p+".testing", pr.Testing, "", "notfound", "enforce")
		oneOf(p+".dane", pr.DANE, "", "on", "off", "required")
		oneOf(p+".dane_lookup_failure", pr.DANELookupFailure, "", "dane", "temp")
		if pr.AnswerDeadline != 0 {
			within(p+".answer_deadline", pr.AnswerDeadline, time.Second, 90*time.Second)
		}
	}
	return errs
}

// FileMode parses the octal Mode of a Unix listener; empty means 0660.
func (l Listener) FileMode() (os.FileMode, error) {
	if l.Mode == "" {
		return 0o660, nil
	}
	v, err := strconv.ParseUint(l.Mode, 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("invalid mode %q", l.Mode)
	}
	return os.FileMode(v), nil
}

// lineOf is the line of path, or of its nearest enclosing key when path itself is not
// written in the file (a missing key is reported where its parent is).
func lineOf(lines map[string]int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
}
