package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mailtls/mailtls/internal/dnsname"
	"github.com/mailtls/mailtls/tlsrpt"
)

// Limits on one datagram. libtlsrpt builds datagrams of at most 65000 bytes; one delivery
// request has a few policies (DANE, then MTA-STS, or none) and one failure per session.
const (
	MaxDatagram       = 65535
	maxPolicies       = 16
	maxFailures       = 64
	maxPolicyStrings  = 256
	maxStringLen      = 2048
	maxAdditionalInfo = 1024
	maxReasonLen      = 256
)

// Rejection reasons (the "reason" label of the rejected-datagram metric).
const (
	ReasonSize     = "size"     // empty or larger than MaxDatagram
	ReasonJSON     = "json"     // not one JSON object of the expected shape
	ReasonVersion  = "version"  // dpv present and not "1"
	ReasonMissing  = "missing"  // a required member is absent or empty
	ReasonInvalid  = "invalid"  // a member has a value outside its range
	ReasonTooMany  = "too_many" // absurd counts: policies, failure details, strings
	ReasonRecord   = "record"   // pr is no usable TLSRPT record (RFC 8460 §3)
	ReasonReported = "late_day" // counts for a day whose reports were already built
)

// BadDatagram is the error for a datagram that is refused; Reason is one of the Reason
// constants.
type BadDatagram struct {
	Reason string
	Err    error
}

func (e *BadDatagram) Error() string { return "tlsrpt datagram (" + e.Reason + "): " + e.Err.Error() }
func (e *BadDatagram) Unwrap() error { return e.Err }

func bad(reason, format string, a ...any) error {
	return &BadDatagram{Reason: reason, Err: fmt.Errorf(format, a...)}
}

// The datagram as libtlsrpt writes it (short keys on purpose; shared/spec/tlsrpt.md §1).
type wireDatagram struct {
	DPV      *string      `json:"dpv"`
	Domain   string       `json:"d"`
	Record   string       `json:"pr"`
	Policies []wirePolicy `json:"policies"`
}

type wirePolicy struct {
	Type     *int          `json:"policy-type"`
	Domain   string        `json:"policy-domain"`
	Strings  []string      `json:"policy-string"`
	MXHost   []string      `json:"mx-host"`
	Failures []wireFailure `json:"failure-details"`
	Count    *int          `json:"t"`
	Final    *int          `json:"f"`
}

type wireFailure struct {
	Code       *int   `json:"c"`
	SendingIP  string `json:"s"`
	MXName     string `json:"n"`
	EHLO       string `json:"h"`
	ReceivedIP string `json:"r"`
	Additional string `json:"a"`
	Reason     string `json:"f"`
}

// Result is one datagram's content in report terms: one delivery request for Domain,
// under the TLSRPT Record, with the outcome under each policy it applied.
type Result struct {
	Domain, Record string
	Policies       []PolicyResult
}

// PolicyResult is one policy's outcome within a delivery request.
type PolicyResult struct {
	Policy  tlsrpt.Policy
	Failed  bool
	Details []tlsrpt.FailureDetail // each with FailedSessionCount 1
}

// ParseDatagram decodes and checks one libtlsrpt datagram. It accepts both shapes seen in
// practice (with and without "dpv"; "h" as a host name or as the raw EHLO response) and
// never copies raw protocol text into a report. Errors are *BadDatagram.
func ParseDatagram(b []byte) (*Result, error) {
	if len(b) == 0 || len(b) > MaxDatagram {
		return nil, bad(ReasonSize, "%d bytes", len(b))
	}
	var w wireDatagram
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, bad(ReasonJSON, "%v", err)
	}
	if w.DPV != nil && *w.DPV != "1" {
		return nil, bad(ReasonVersion, "dpv %q, want \"1\"", *w.DPV)
	}
	domain := strings.ToLower(strings.TrimSuffix(w.Domain, "."))
	if domain == "" {
		return nil, bad(ReasonMissing, "no recipient domain (d)")
	}
	if !dnsname.Valid(domain) {
		return nil, bad(ReasonInvalid, "recipient domain %q", w.Domain)
	}
	if w.Record == "" {
		return nil, bad(ReasonMissing, "no TLSRPT record (pr)")
	}
	if _, err := tlsrpt.ParseRecord(w.Record); err != nil {
		return nil, bad(ReasonRecord, "%v", err)
	}
	if len(w.Policies) == 0 {
		return nil, bad(ReasonMissing, "no policies")
	}
	if len(w.Policies) > maxPolicies {
		return nil, bad(ReasonTooMany, "%d policies", len(w.Policies))
	}
	r := &Result{Domain: domain, Record: w.Record, Policies: make([]PolicyResult, 0, len(w.Policies))}
	for i := range w.Policies {
		p, err := parsePolicy(&w.Policies[i], domain)
		if err != nil {
			return nil, err
		}
		r.Policies = append(r.Policies, p)
	}
	return r, nil
}

func parsePolicy(w *wirePolicy, domain string) (PolicyResult, error) {
	var p PolicyResult
	if w.Type == nil || w.Final == nil {
		return p, bad(ReasonMissing, "policy without policy-type or f")
	}
	switch *w.Type {
	case 1:
		p.Policy.Type = tlsrpt.PolicyTLSA
	case 2:
		p.Policy.Type = tlsrpt.PolicySTS
	case 9:
		p.Policy.Type = tlsrpt.PolicyNotFound
	default:
		return p, bad(ReasonInvalid, "policy-type %d", *w.Type)
	}
	switch *w.Final {
	case 0:
	case 1:
		p.Failed = true
	default:
		return p, bad(ReasonInvalid, "final result f=%d", *w.Final)
	}
	if w.Count != nil && (*w.Count < 0 || *w.Count > maxFailures) {
		return p, bad(ReasonTooMany, "t=%d", *w.Count)
	}
	if len(w.Failures) > maxFailures {
		return p, bad(ReasonTooMany, "%d failure details", len(w.Failures))
	}
	if len(w.Strings) > maxPolicyStrings || len(w.MXHost) > maxPolicyStrings {
		return p, bad(ReasonTooMany, "%d policy strings, %d mx-host", len(w.Strings), len(w.MXHost))
	}
	for _, s := range append(w.Strings[:len(w.Strings):len(w.Strings)], w.MXHost...) {
		if len(s) > maxStringLen {
			return p, bad(ReasonInvalid, "policy string of %d bytes", len(s))
		}
	}
	pd := strings.ToLower(strings.TrimSuffix(w.Domain, "."))
	if pd == "" {
		pd = domain // libtlsrpt omits an empty policy-domain; the recipient domain is meant
	}
	if len(pd) > dnsname.MaxLen || strings.ContainsAny(pd, " \t\r\n\"") {
		return p, bad(ReasonInvalid, "policy-domain %q", w.Domain)
	}
	p.Policy.Domain = pd
	if p.Policy.Type != tlsrpt.PolicyNotFound {
		p.Policy.String, p.Policy.MXHost = w.Strings, w.MXHost
	}
	if !p.Failed {
		return p, nil // a success has no failure details (odd combinations are ignored)
	}
	for i := range w.Failures {
		d, err := parseFailure(&w.Failures[i])
		if err != nil {
			return p, err
		}
		p.Details = append(p.Details, d)
	}
	return p, nil
}

func parseFailure(w *wireFailure) (tlsrpt.FailureDetail, error) {
	var d tlsrpt.FailureDetail
	if w.Code == nil {
		return d, bad(ReasonMissing, "failure detail without code (c)")
	}
	rt, ok := tlsrpt.ResultTypeForCode(*w.Code)
	if !ok {
		return d, bad(ReasonInvalid, "failure code %d", *w.Code)
	}
	d.ResultType, d.FailedSessionCount = rt, 1
	var err error
	if d.SendingMTAIP, err = ipField("s", w.SendingIP); err != nil {
		return d, err
	}
	if d.ReceivingIP, err = ipField("r", w.ReceivedIP); err != nil {
		return d, err
	}
	d.ReceivingMXHostname = hostName(w.MXName)
	d.ReceivingMXHelo = heloName(w.EHLO)
	if len(w.Additional) > maxAdditionalInfo || len(w.Reason) > maxReasonLen {
		return d, bad(ReasonInvalid, "additional information or reason too long")
	}
	d.AdditionalInformation = printable(w.Additional)
	d.FailureReasonCode = printable(w.Reason)
	return d, nil
}

func ipField(name, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", bad(ReasonInvalid, "%s: %q is not an IP address", name, s)
	}
	return a.Unmap().String(), nil
}

// hostName returns s as a host name when it is one ("" otherwise).
func hostName(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if dnsname.Valid(s) {
		return s
	}
	return ""
}

// heloName takes the server's name from what libtlsrpt puts in "h": a host name, or the
// raw EHLO response, whose first line is "250-name ..." or "250 name ...". Anything else
// gives "" (shared/spec/tlsrpt.md §1: never copy raw protocol text into a report).
func heloName(h string) string {
	line, _, _ := strings.Cut(h, "\n")
	line = strings.TrimRight(line, "\r")
	if rest, ok := strings.CutPrefix(line, "250"); ok {
		if rest == "" || (rest[0] != '-' && rest[0] != ' ') {
			return ""
		}
		name, _, _ := strings.Cut(strings.TrimLeft(rest[1:], " "), " ")
		return hostName(name)
	}
	return hostName(line)
}

// printable drops control characters from free text.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
}

// IsBad reports whether err is a refused datagram and returns its reason.
func IsBad(err error) (string, bool) {
	var b *BadDatagram
	if errors.As(err, &b) {
		return b.Reason, true
	}
	return "", false
}
