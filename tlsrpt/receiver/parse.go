package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mailtls/mailtls/tlsrpt"
)

// wire is the report as reporters send it. RFC 8460 §4.4 and its errata (5220 and the
// like) leave room for shapes seen in the field: mx-host as a string or a list,
// date-times with or without a zone, counts as numbers; unknown members are ignored and
// optional members may be missing.
type wire struct {
	Org       string `json:"organization-name"`
	DateRange struct {
		Start string `json:"start-datetime"`
		End   string `json:"end-datetime"`
	} `json:"date-range"`
	Contact  string       `json:"contact-info"`
	ReportID string       `json:"report-id"`
	Policies []wirePolicy `json:"policies"`
}

type wirePolicy struct {
	Policy struct {
		Type   string       `json:"policy-type"`
		String stringOrList `json:"policy-string"`
		Domain string       `json:"policy-domain"`
		MXHost stringOrList `json:"mx-host"`
	} `json:"policy"`
	Summary struct {
		OK     *int64 `json:"total-successful-session-count"`
		Failed *int64 `json:"total-failure-session-count"`
	} `json:"summary"`
	FailureDetails []tlsrpt.FailureDetail `json:"failure-details"`
}

// stringOrList accepts "a" and ["a","b"] (RFC 8460 erratum 6241: mx-host is shown as
// both), and null.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = stringOrList{v}
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = v
	return nil
}

// dateLayouts are the date-time shapes accepted: RFC 3339 (§4.4), and without a zone
// (taken as UTC), with or without fractions, "T" or a space.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", s)
}

// Parse decodes one report's JSON. It checks the limits (size, nesting, counts) before
// decoding, so a hostile document costs one bounded scan, then requires what a report
// cannot do without (organization-name, report-id, date-range, each policy's type,
// domain and summary) and accepts everything else liberally.
func Parse(raw []byte, lim Limits) (*tlsrpt.Report, error) {
	lim = lim.withDefaults()
	if int64(len(raw)) > lim.MaxDecompressed {
		return nil, fmt.Errorf("%w: JSON over %d bytes", ErrTooLarge, lim.MaxDecompressed)
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: not UTF-8 (RFC 8259 §8.1)", ErrMalformed)
	}
	if err := checkShape(raw, lim); err != nil {
		return nil, err
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	r := &tlsrpt.Report{OrganizationName: strings.TrimSpace(w.Org), ContactInfo: w.Contact, ReportID: strings.TrimSpace(w.ReportID)}
	if r.OrganizationName == "" {
		return nil, bad("organization-name missing")
	}
	if r.ReportID == "" {
		return nil, bad("report-id missing")
	}
	var err error
	if r.DateRange.Start, err = parseDate(w.DateRange.Start); err != nil {
		return nil, bad("date-range.start-datetime: %v", err)
	}
	if r.DateRange.End, err = parseDate(w.DateRange.End); err != nil {
		return nil, bad("date-range.end-datetime: %v", err)
	}
	if r.DateRange.End.Before(r.DateRange.Start) {
		return nil, bad("date-range ends before it starts")
	}
	if len(w.Policies) == 0 {
		return nil, bad("no policies")
	}
	for i, p := range w.Policies {
		pt := tlsrpt.PolicyType(strings.ToLower(strings.TrimSpace(p.Policy.Type)))
		if !pt.Valid() {
			return nil, bad("policies[%d]: policy-type %q", i, p.Policy.Type)
		}
		dom := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p.Policy.Domain), "."))
		if dom == "" {
			return nil, bad("policies[%d]: policy-domain missing", i)
		}
		if p.Summary.OK == nil || p.Summary.Failed == nil {
			return nil, bad("policies[%d]: summary counts missing", i)
		}
		if *p.Summary.OK < 0 || *p.Summary.Failed < 0 {
			return nil, bad("policies[%d]: negative session count", i)
		}
		pr := tlsrpt.PolicyResult{
			Policy:  tlsrpt.Policy{Type: pt, String: p.Policy.String, Domain: dom, MXHost: p.Policy.MXHost},
			Summary: tlsrpt.Summary{Successful: *p.Summary.OK, Failed: *p.Summary.Failed},
		}
		for j, d := range p.FailureDetails {
			if d.ResultType == "" {
				return nil, bad("policies[%d].failure-details[%d]: result-type missing", i, j)
			}
			if d.FailedSessionCount < 0 {
				return nil, bad("policies[%d].failure-details[%d]: negative failed-session-count", i, j)
			}
			d.ResultType = tlsrpt.ResultType(strings.ToLower(string(d.ResultType)))
			pr.FailureDetails = append(pr.FailureDetails, d)
		}
		r.Policies = append(r.Policies, pr)
	}
	return r, nil
}

// checkShape walks the tokens once and refuses documents nested deeper than MaxDepth, or
// with more than MaxPolicies entries in "policies", MaxDetails in a "failure-details" or
// MaxStrings in any other array, before anything is decoded.
func checkShape(raw []byte, lim Limits) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		array     bool
		expectKey bool   // objects: the next string is a member name
		n         int    // arrays: entries so far
		key       string // the member name this container is the value of
	}
	var stack []frame
	key := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if !top.array && top.expectKey {
				if s, ok := tok.(string); ok {
					key, top.expectKey = s, false
					continue
				}
			}
			if d, ok := tok.(json.Delim); top.array && (!ok || d == '[' || d == '{') {
				top.n++
				if err := checkCount(top.key, top.n, lim); err != nil {
					return err
				}
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, frame{array: tok == json.Delim('['), expectKey: tok == json.Delim('{'), key: key})
			if len(stack) > lim.MaxDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrTooLarge, lim.MaxDepth)
			}
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// a value ended: its object expects the next member name
		if len(stack) > 0 && !stack[len(stack)-1].array {
			stack[len(stack)-1].expectKey = true
		}
	}
}

func checkCount(key string, n int, lim Limits) error {
	max, what := lim.MaxStrings, fmt.Sprintf("entries in %q", key)
	switch key {
	case "policies":
		max, what = lim.MaxPolicies, "policies"
	case "failure-details":
		max, what = lim.MaxDetails, "failure details in a policy"
	}
	if n > max {
		return fmt.Errorf("%w: more than %d %s", ErrTooLarge, max, what)
	}
	return nil
}
