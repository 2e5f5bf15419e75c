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
	TLSRPT *TLSRPT       `json:"tlsrpt,omitempty"`
	Would  *policy.Would `json:"would,omitempty"`
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
