package config

import (
	_ "embed"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// defaultYAML is the embedded default configuration.
//
//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration text.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Config is the whole configuration. Parse starts from the embedded default, so a file
// only needs the settings it changes.
type Config struct {
	StateDir string   `yaml:"state_dir"`
	Log      Log      `yaml:"log"`
	Resolver Resolver `yaml:"resolver"`
	DANE     DANE     `yaml:"dane"`
	MTASTS   MTASTS   `yaml:"mta_sts"`
	Cache    Cache    `yaml:"cache"`
	Listen   Listen   `yaml:"listen"`
	Audit    Audit    `yaml:"audit"`
	Metrics  Metrics  `yaml:"metrics"`
	ASN      ASN      `yaml:"asn"`
	// Hosting serves MTA-STS policies for the operator's own domains (config/hosting.go).
	Hosting Hosting `yaml:"hosting"`
	// TLSRPT sends the RFC 8460 reports recipient domains ask for (config/tlsrpt.go).
	TLSRPT TLSRPT `yaml:"tlsrpt"`
	// TLSRPTReceiver takes the reports others send about our domains (config/tlsrptreceiver.go).
	TLSRPTReceiver TLSRPTReceiver `yaml:"tlsrpt_receiver"`
	// API is the HTTP JSON API and the Exim readsocket line protocol (config/api.go).
	API API `yaml:"api"`
	// Overrides pin a policy for domains, before DANE and MTA-STS (conformance.md §2).
	Overrides []Override `yaml:"overrides"`
	// Profiles are keyed by the socketmap map name. The built-in "postfix" and
	// "postfix-tlsrpt" profiles exist unless the file redefines them.
	Profiles map[string]Profile `yaml:"profiles"`

	// Source is the file the configuration came from ("" for the embedded default).
	Source string `yaml:"-"`
	// lines maps each key path written in Source to its line, for CheckFiles' errors.
	lines map[string]int
}

// Log selects log verbosity and format.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Resolver lists the validating recursive resolvers every DNS question goes to.
type Resolver struct {
	Servers    []string `yaml:"servers"`
	ResolvConf string   `yaml:"resolv_conf"`
	Timeout    Duration `yaml:"timeout"`
}

// DANE configures the start-up check that the resolver really validates DNSSEC
// (RFC 7672 §2.1: DANE needs a validating resolver). When the check fails the DANE stage is
// off and the daemon says so, unless a profile says dane: required, which refuses to start.
type DANE struct {
	CheckSigned string `yaml:"check_signed"` // a signed name: must come back with AD=1
	CheckBogus  string `yaml:"check_bogus"`  // a deliberately broken name: must fail (SERVFAIL)
}

// MTASTS holds the policy fetch limits and cache timers of RFC 8461.
type MTASTS struct {
	FetchTimeout Duration `yaml:"fetch_timeout"`
	MaxBody      int64    `yaml:"max_body"`
	CAFile       string   `yaml:"ca_file"`
	// AllowAddresses lists prefixes ("10.0.0.0/8", "127.0.0.1/32") a policy host may
	// resolve to even though they are loopback, private, link-local or otherwise special;
	// by default such addresses are refused (SSRF guard).
	AllowAddresses  []string `yaml:"allow_addresses"`
	FailureRetry    Duration `yaml:"failure_retry"`
	RefreshInterval Duration `yaml:"refresh_interval"`
	// TXTTTLMin is the floor on the _mta-sts TXT record's TTL: the record is re-read once
	// its check is older than its TTL as published, or this (conformance.md §4).
	TXTTTLMin Duration `yaml:"txt_ttl_min"`
}

// AllowPrefixes parses AllowAddresses (validated by Parse); a bare address is a /32 or /128.
func (m MTASTS) AllowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range m.AllowAddresses {
		if p, err := parsePrefix(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

// Cache sizes the hot store and selects the persistent one.
type Cache struct {
	MaxEntries int `yaml:"max_entries"`
	// MaxBytes is the hot store's memory budget in bytes, as the estimated cost of its
	// entries (what one domain may cost is bounded too); 0 = no byte budget.
	MaxBytes int64 `yaml:"max_bytes"`
	// GCHeadroom bounds, in bytes, the garbage the Go heap may hold beyond its live part
	// before the next collection, so that a large hot store does not double the
	// process's memory under traffic (Go's default lets the heap reach twice the live
	// heap); never paced more loosely than Go's default. 0 = Go's own pacing. Not used
	// when the environment sets GOGC or GOMEMLIMIT. Read at start.
	GCHeadroom     int64    `yaml:"gc_headroom"`
	Store          string   `yaml:"store"` // sqlite or none
	Path           string   `yaml:"path"`
	NegativeTTLMin Duration `yaml:"negative_ttl_min"`
	NegativeTTLMax Duration `yaml:"negative_ttl_max"`
}

// Listen lists the sockets mailtls serves and bounds their use.
type Listen struct {
	Socketmap []Listener `yaml:"socketmap"`
	Control   string     `yaml:"control"`
	// MaxConnections caps concurrent socketmap connections; more wait in the listen
	// queue (back-pressure) rather than being refused. 0 = no cap.
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes a socketmap connection without requests for this long (Postfix
	// closes its own after 10 s, so this only reaps dead clients).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// PartialRequestTimeout closes a socketmap connection whose request, once begun, is
	// not complete this long after its first byte (Postfix writes a request at once: a
	// slow one is a broken or hostile client).
	PartialRequestTimeout Duration `yaml:"partial_request_timeout"`
}

// Listener is one socketmap endpoint: a TCP address or a Unix socket path.
type Listener struct {
	TCP   string `yaml:"tcp"`
	Unix  string `yaml:"unix"`
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
	Mode  string `yaml:"mode"` // octal, e.g. "0660"
}

// Audit is the decision log: one JSON line per answered query.
type Audit struct {
	// File is where lines go: "" (off), "-" (standard output) or a path, reopened on
	// SIGHUP so logrotate can move it.
	File string `yaml:"file"`
	// HashDomains writes keyed hashes (HMAC-SHA256 under HashKey) instead of domain names
	// and leaves the reasons out, for privacy.
	HashDomains bool   `yaml:"hash_domains"`
	HashKey     string `yaml:"hash_key"`
}

// Metrics is the Prometheus and health endpoint.
type Metrics struct {
	// Listen is "host:port" for /metrics, /healthz and /readyz; "" turns it off. Keep it on
	// loopback or behind a firewall.
	Listen string `yaml:"listen"`
}

// ASN configures ASN rules: a minimum TLS level for domains whose MX hosts all sit in
// listed autonomous systems, from an offline IP-to-ASN database the operator supplies.
type ASN struct {
	// Database is a MaxMind-format ASN database (".mmdb", e.g. GeoLite2-ASN) or an ip2asn
	// TSV file (optionally ".gz").
	Database string    `yaml:"database"`
	Rules    []ASNRule `yaml:"rules"`
}

// ASNRule requires at least Level (encrypt, verify or secure; the latter two check the
// certificate against the MX host name) for domains whose every MX address is in ASNs.
type ASNRule struct {
	Name  string   `yaml:"name"`
	ASNs  []uint32 `yaml:"asns"`
	Level string   `yaml:"level"`
}

// Override pins the Postfix TLS level for one domain ("example.com") or for every
// subdomain of a suffix (".example.com"). An exact domain beats a suffix; the longest
// suffix wins among suffixes.
type Override struct {
	Domain string `yaml:"domain"`
	// Level is a Postfix TLS security level: none, may, encrypt, verify, secure,
	// fingerprint, dane, dane-only.
	Level string `yaml:"level"`
	// Match lists certificate name patterns for verify and secure (Postfix match=).
	Match []string `yaml:"match"`
	// Fingerprints lists SHA-256 certificate or public-key fingerprints for level
	// fingerprint (hex pairs separated by colons).
	Fingerprints []string `yaml:"fingerprints"`
	// ReportOnly answers NOTFOUND but records what the override would have answered.
	ReportOnly bool `yaml:"report_only"`
}

// Profile is the per-map-name behaviour (conformance.md §1: NAME selects a profile).
type Profile struct {
	// TLSRPT appends the Postfix ≥ 3.10 TLSRPT attributes to MTA-STS answers. Older Postfix
	// rejects them, so this is never on by default.
	TLSRPT bool `yaml:"tlsrpt"`
	// Testing is what an MTA-STS "testing" policy answers: "notfound" (default, RFC 8461
	// §5: testing policies must not cause delivery failures) or "enforce".
	Testing string `yaml:"testing"`
	// DANE is "on" (default), "off", or "required": like on, but the daemon refuses to start
	// when the resolver fails the validation check.
	DANE string `yaml:"dane"`
	// DANELookupFailure is what a secure-MX domain with failed host lookups and no proven
	// DANE host answers: "dane" (default; Postfix re-checks per host) or "temp".
	DANELookupFailure string `yaml:"dane_lookup_failure"`
	// AnswerDeadline bounds the time to answer one request (default 25 s, well inside
	// Postfix's 100 s). When it passes before the domain's facts are known, the answer is
	// TEMP (Postfix retries later), never a weaker policy.
	AnswerDeadline Duration `yaml:"answer_deadline"`
	// ReportOnly answers NOTFOUND for everything (Postfix applies its own default), while
	// the audit log and metrics record what mailtls would have answered: a dry run.
	ReportOnly bool `yaml:"report_only"`
}

// Duration is a time.Duration written as a Go duration string ("10s", "5m", "24h").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// builtinProfiles exist unless a configuration file redefines them by name.
func builtinProfiles() map[string]Profile {
	return map[string]Profile{
		"postfix":        {},
		"postfix-tlsrpt": {TLSRPT: true},
	}
}

// Error is one configuration problem and where it is.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = "<default>"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", file, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", file, e.Msg)
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}
