package receiver

import (
	"context"
	"errors"

	"github.com/mailtls/mailtls/tlsrpt"
)

// AcceptMail takes one RFC 5322 message carrying a TLS report (RFC 8460 §5.3): it
// requires an aligned, verifying DKIM signature (VerifyMail), finds the report part
// (FindReport) and stores the report. Errors wrap ErrUnsigned, ErrTempFail, ErrNoReport,
// ErrMalformed, ErrTooLarge or ErrNotOurs; others are storage failures.
func (rc *Receiver) AcceptMail(ctx context.Context, msg []byte, lookupTXT func(string) ([]string, error)) (*tlsrpt.Report, bool, error) {
	domain, err := VerifyMail(msg, lookupTXT)
	if err != nil {
		switch {
		case errors.Is(err, ErrTempFail):
			rc.Metrics.report("mail", "error")
		case errors.Is(err, ErrUnsigned):
			rc.Metrics.report("mail", "unsigned")
		default:
			rc.Metrics.report("mail", "malformed")
		}
		rc.log().Warn("tlsrpt: mailed report refused", "err", err)
		return nil, false, err
	}
	raw, err := FindReport(msg, rc.Limits)
	if err == nil {
		var r *tlsrpt.Report
		var isNew bool
		r, isNew, err = rc.Accept(ctx, raw, Origin{Source: "mail", Submitter: domain})
		if err == nil {
			return r, isNew, nil
		}
	}
	switch {
	case errors.Is(err, ErrTooLarge):
		rc.Metrics.report("mail", "too_large")
	case errors.Is(err, ErrNotOurs):
		rc.Metrics.report("mail", "not_ours")
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrNoReport):
		rc.Metrics.report("mail", "malformed")
	default:
		rc.Metrics.report("mail", "error")
	}
	rc.log().Warn("tlsrpt: mailed report refused", "dkim_domain", domain, "err", err)
	return nil, false, err
}
