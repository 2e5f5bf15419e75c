package tlsrpt

import "time"

// Report is one RFC 8460 §4 report: the TLS results of one reporting organisation for
// one policy domain over DateRange.
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyResult `json:"policies"`
}

// DateRange is the report's period (RFC 8460 §4.4: RFC 3339 date-times).
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyResult is one policy the sender applied and what happened under it (§4.4
// "policies").
type PolicyResult struct {
	Policy         Policy          `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// Policy describes the policy applied (§4.4 "policy").
type Policy struct {
	// Type is "tlsa", "sts" or "no-policy-found" (§4.4 policy-type).
	Type PolicyType `json:"policy-type"`
	// String is the policy: for sts the lines of the policy file, for tlsa the TLSA
	// records in presentation form (§4.4 policy-string).
	String []string `json:"policy-string,omitempty"`
	// Domain is the policy domain (§4.4 policy-domain; for DANE the TLSA base domain).
	Domain string `json:"policy-domain"`
	// MXHost are the mx patterns of an sts policy (§4.4 mx-host).
	MXHost []string `json:"mx-host,omitempty"`
}

// PolicyType is RFC 8460 §4.4's policy-type.
type PolicyType string

// The policy types of RFC 8460 §4.4.
const (
	PolicyTLSA     PolicyType = "tlsa"
	PolicySTS      PolicyType = "sts"
	PolicyNotFound PolicyType = "no-policy-found"
)

// Valid reports whether t is one of the three policy types.
func (t PolicyType) Valid() bool {
	return t == PolicyTLSA || t == PolicySTS || t == PolicyNotFound
}

// Summary counts the sessions under a policy (§4.4 "summary").
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail is one kind of failure and how many sessions it ended (§4.4
// "failure-details"). Optional members are omitted when empty.
type FailureDetail struct {
	ResultType            ResultType `json:"result-type"`
	SendingMTAIP          string     `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname   string     `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo       string     `json:"receiving-mx-helo,omitempty"`
	ReceivingIP           string     `json:"receiving-ip,omitempty"`
	FailedSessionCount    int64      `json:"failed-session-count"`
	AdditionalInformation string     `json:"additional-information,omitempty"`
	FailureReasonCode     string     `json:"failure-reason-code,omitempty"`
}

// DayRange is the date-range of the UTC day that contains t: from its midnight to the
// last second before the next one (RFC 8460 §4.1: reports cover a UTC day).
func DayRange(t time.Time) DateRange {
	start := time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
	return DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)}
}
