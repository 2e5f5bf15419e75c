package reporter

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// Org is who sends the reports (RFC 8460 §4.4 organization-name, contact-info; §5.3
// TLS-Report-Submitter).
type Org struct {
	Name      string // organization-name
	Contact   string // contact-info: an e-mail address or URI
	Submitter string // the sending domain, e.g. "mail.example.net"
}

// ReportID is the stable report-id of (day, domain, record): the same on every build, so
// a rebuild after a crash is recognised and a receiver can spot a repeated delivery.
func ReportID(day, domain, record, submitter string) string {
	sum := sha256.Sum256([]byte(day + "\x00" + domain + "\x00" + record))
	return day + "T00:00:00Z_" + domain + "_" + hex.EncodeToString(sum[:6]) + "@" + submitter
}

// Build makes the RFC 8460 §4 report of one day group. Policies keep the order of the
// group; failure details the order of their canonical JSON.
func Build(g store.DayGroup, org Org) (*tlsrpt.Report, error) {
	day, err := time.Parse(time.DateOnly, g.Day)
	if err != nil {
		return nil, fmt.Errorf("reporter: day %q: %w", g.Day, err)
	}
	r := &tlsrpt.Report{
		OrganizationName: org.Name, ContactInfo: org.Contact,
		ReportID:  ReportID(g.Day, g.Domain, g.Record, org.Submitter),
		DateRange: tlsrpt.DayRange(day),
	}
	for _, pc := range g.Policies {
		var pr tlsrpt.PolicyResult
		if err := json.Unmarshal([]byte(pc.Policy), &pr.Policy); err != nil {
			return nil, fmt.Errorf("reporter: stored policy %q: %w", pc.Policy, err)
		}
		pr.Summary = tlsrpt.Summary{Successful: pc.Counts.OK, Failed: pc.Counts.Failed}
		for _, dc := range pc.Details {
			var d tlsrpt.FailureDetail
			if err := json.Unmarshal([]byte(dc.Detail), &d); err != nil {
				return nil, fmt.Errorf("reporter: stored failure detail %q: %w", dc.Detail, err)
			}
			d.FailedSessionCount = dc.N
			pr.FailureDetails = append(pr.FailureDetails, d)
		}
		r.Policies = append(r.Policies, pr)
	}
	return r, nil
}

// spread is where in [0, window) the first delivery of report id falls: derived from the
// id, so that reports spread evenly and a rebuild gives the same time (RFC 8460 §5.1
// asks senders to spread report delivery).
func spread(id string, window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	sum := sha256.Sum256([]byte(id))
	return time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(window))
}
