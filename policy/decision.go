package policy

import (
	"encoding/json"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// Result is the kind of answer, as Postfix's socketmap protocol names them.
type Result string

// The answer kinds of socketmap_table(5).
const (
	OK       Result = "OK"
	NotFound Result = "NOTFOUND"
	Temp     Result = "TEMP"
	Perm     Result = "PERM"
)

// Source says which stage of the evaluation order produced a Decision.
type Source string

// Sources, in evaluation order (conformance.md §2).
const (
	SourceInput    Source = "input"    // the key is not a domain we look up (IP literal, parent probe, invalid)
	SourceOverride Source = "override" // operator override (issue 5)
	SourceDANE     Source = "dane"
	SourceMTASTS   Source = "mta-sts"
	SourceASN      Source = "asn" // an ASN rule: the MX hosts sit in listed networks
	SourceDefault  Source = "default"
	// SourceDeadline: the answer deadline passed before the facts were known (TEMP).
	SourceDeadline Source = "deadline"
	// SourceReportOnly: a dry-run profile or rule answered NOTFOUND; Decision.Would says
	// what it would have answered.
	SourceReportOnly Source = "report-only"
)

// Decision is the answer for one next-hop and why.
type Decision struct {
	Key     string `json:"key"`    // the lookup key as received
	Domain  string `json:"domain"` // the policy domain (lower-case A-label), "" when the key is not looked up
	Profile string `json:"profile"`

	Result     Result   `json:"result"`
	Level      string   `json:"level,omitempty"`      // Postfix TLS security level when Result is OK: secure, dane, dane-only, …
	Match      []string `json:"match,omitempty"`      // Postfix match= patterns (colon-joined in the answer); shared, read-only
	Servername string   `json:"servername,omitempty"` // Postfix servername= (MTA-STS: "hostname")
	Source     Source   `json:"source"`
	// Message is the text of a TEMP or PERM answer.
	Message string `json:"message,omitempty"`

	// STS describes the MTA-STS policy behind an answer, for the TLSRPT attributes of
	// Postfix ≥ 3.10 and for explanations; zero (IsZero) when no policy applies. A value,
	// not a pointer, so that a cached answer needs no description kept per domain: its
	// slices are shared with the engine's cache, like Match and Would: read, never modify.
	STS STSPolicy `json:"sts,omitzero"`

	// Would is set on report-only answers: the reply and source mailtls would have given.
	Would *Would `json:"would,omitempty"`

	TLSRPT   bool      `json:"tlsrpt"`           // the profile wants TLSRPT attributes in the answer
	Expires  time.Time `json:"expires,omitzero"` // until when the facts behind this answer are valid
	CacheHit bool      `json:"cache_hit"`        // answered from the hot store without network work

	// why records what the decision rests on without formatting it; Reasons renders it.
	why explanation
	// text holds reasons given as text (decoded from JSON, or SetReasons); it wins over why.
	text []string
	// reply is the OK reply the engine rendered once for the facts behind this answer and
	// reuses on every hit; "" when PostfixReply renders from the fields.
	reply string
	// would is what a report-only answer records in Would, rendered with reply; nil when
	// reportOnly must build it.
	would *Would
	// daneHosts are the hosts of a dane or dane-only answer of the DANE stage (DANEHosts).
	daneHosts *DANEHosts
}

// STSPolicy is the MTA-STS policy a Decision rests on.
type STSPolicy struct {
	Domain string   `json:"domain"`  // policy domain
	ID     string   `json:"id"`      // the id of the TXT record the policy was fetched under
	Mode   string   `json:"mode"`    // enforce, testing, none
	MaxAge uint32   `json:"max_age"` // seconds
	MX     []string `json:"mx"`      // the policy's mx patterns as published (e.g. "*.example.com")
	// Lines are the policy text, line by line (TLSRPT policy_string). A policy from the hot
	// store whose text is the canonical rendering of the fields above leaves them nil;
	// PolicyLines and the JSON encoding give them in every case.
	Lines []string `json:"lines"`
	// canonical says nil Lines stand for the canonical text.
	canonical bool
}

// IsZero reports whether p describes no policy (Decision.STS of an answer without one).
func (p STSPolicy) IsZero() bool {
	return p.Domain == "" && p.ID == "" && p.Mode == "" && p.MaxAge == 0 && p.MX == nil && p.Lines == nil && !p.canonical
}

// stsPolicyFields is STSPolicy without its methods, for its JSON encoding.
type stsPolicyFields STSPolicy

// PolicyLines returns the policy text line by line: Lines, or the canonical text they
// stand for (built anew on each call).
func (p *STSPolicy) PolicyLines() []string {
	if p.Lines == nil && p.canonical {
		return canonicalLines(&mtasts.Policy{Version: mtasts.PolicyVersion, Mode: mtasts.Mode(p.Mode), MaxAge: p.MaxAge, MX: p.MX})
	}
	return p.Lines
}

// MarshalJSON encodes p with its Lines spelled out (PolicyLines).
func (p STSPolicy) MarshalJSON() ([]byte, error) {
	p.Lines = p.PolicyLines()
	return json.Marshal(stsPolicyFields(p))
}

// Reasons says for people, in order, what was seen, fetched and decided. The engine records
// a decision's grounds compactly (explanation) and renders the text only here, for the
// CLI's explanation, the control socket's JSON and the audit log, so that answering
// Postfix formats nothing. Each call on an engine decision renders a new slice; a
// decision with fixed text (SetReasons, decoded JSON) returns that text.
func (d *Decision) Reasons() []string {
	if d.text != nil {
		return d.text
	}
	return d.why.render(d)
}

// SetReasons replaces d's reasons with fixed text, for a Decision built by hand.
func (d *Decision) SetReasons(reasons []string) {
	d.text = reasons
	d.why = explanation{}
}

// Would is what a report-only decision would have answered.
type Would struct {
	Reply  string `json:"reply"`
	Source Source `json:"source"`
}
