package httpapi

import (
	"time"

	"github.com/mailtls/mailtls/policy"
)

// Response is the body of a 200 answer (openapi.yaml, schema Decision), for clients in Go.
// The handler encodes it by hand (body.go), field for field as encoding/json would.
type Response struct {
	NextHop    string        `json:"next_hop"`
	Domain     string        `json:"domain,omitempty"`
	Profile    string        `json:"profile"`
	Result     policy.Result `json:"result"`
	Level      string        `json:"level,omitempty"`
	Match      []string      `json:"match,omitempty"`
	Servername string        `json:"servername,omitempty"`
	Source     policy.Source `json:"source"`
	Message    string        `json:"message,omitempty"`
	Reasons    []string      `json:"reasons"`
	Expires    time.Time     `json:"expires,omitzero"`
	CacheHit   bool          `json:"cache_hit"`
	// MTASTS is the MTA-STS policy behind the answer (nil when none applies).
	MTASTS *STSPolicy `json:"mta_sts,omitempty"`
	// TLSRPT are the RFC 8460 §4.3 policy fields an MTA reports its TLS results under.
	TLSRPT *TLSRPT `json:"tlsrpt,omitempty"`
	// DANE are the MX hosts and usable TLSA records of a dane or dane-only answer, for an
	// MTA that checks TLSA records but cannot look them up with DNSSEC (Haraka).
	DANE  *DANE         `json:"dane,omitempty"`
	Would *policy.Would `json:"would,omitempty"`
	// PostfixReply is the exact socketmap reply of the same decision.
	PostfixReply string `json:"postfix_reply"`
}

// STSPolicy is the MTA-STS policy (RFC 8461 §3.2) behind an answer: policy.STSPolicy with
// its lines spelled out, encoded directly (policy.STSPolicy's MarshalJSON would encode it
// twice, once on its own and once compacted into the answer).
type STSPolicy struct {
	Domain string   `json:"domain"`
	ID     string   `json:"id"`
	Mode   string   `json:"mode"`
	MaxAge uint32   `json:"max_age"`
	MX     []string `json:"mx"`
	Lines  []string `json:"lines"`
}

// TLSRPT are the policy fields of an RFC 8460 report (§4.3) for an MTA-STS answer.
type TLSRPT struct {
	PolicyType    string   `json:"policy_type"` // "sts"
	PolicyDomain  string   `json:"policy_domain"`
	PolicyString  []string `json:"policy_string"`
	MXHostPattern []string `json:"mx_host_pattern"`
}

// DANE is what the DANE stage validated for a dane or dane-only answer (RFC 7672 §2.2):
// the MX hosts in preference order and, per host, the usable records of its secure TLSA
// RRset. A client that uses them instead of its own lookups gets DNSSEC-validated data.
type DANE struct {
	// MXSecure: the MX RRset validated, so Hosts are the domain's MX set (RFC 7672
	// §2.2.1); false for "dane" on an insecure MX RRset and for a host next-hop.
	MXSecure bool `json:"mx_secure"`
	// NoMX: a host next-hop ("[host]"), the one host reached without an MX lookup.
	NoMX  bool       `json:"no_mx"`
	Hosts []DANEHost `json:"hosts"`
}

// DANEHost is one MX host of a DANE answer.
type DANEHost struct {
	Name       string `json:"name"`
	Preference uint16 `json:"preference"`
	TLSABase   string `json:"tlsa_base,omitempty"`
	// State: "dane" (usable TLSA records), "dane-unusable" (a secure TLSA RRset with none
	// usable), "no-tlsa", "failed" (a lookup failed).
	State string `json:"state"`
	TLSA  []TLSA `json:"tlsa,omitempty"`
}

// TLSA is one usable TLSA record (RFC 6698 §2.1): usage 2 or 3, selector 0 or 1,
// matching type 0, 1 or 2, association data in lower-case hex.
type TLSA struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         string `json:"data"`
}
