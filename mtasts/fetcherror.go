package mtasts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ResultType is an RFC 8460 §4.3 failure result type for MTA-STS policy retrieval.
type ResultType string

// The MTA-STS policy failure result types of RFC 8460 §4.3.2.
const (
	// ResultFetchError: the policy could not be retrieved (DNS, connect, TLS handshake,
	// HTTP status, redirect, content type, size, timeout).
	ResultFetchError ResultType = "sts-policy-fetch-error"
	// ResultPolicyInvalid: a policy was retrieved but does not parse.
	ResultPolicyInvalid ResultType = "sts-policy-invalid"
	// ResultWebPKIInvalid: the HTTPS certificate failed validation.
	ResultWebPKIInvalid ResultType = "sts-webpki-invalid"
)

// FetchError is the error Fetch returns; Type classifies it for TLS reporting.
type FetchError struct {
	Domain string
	Type   ResultType
	Err    error
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("mta-sts policy fetch for %s: %s: %v", e.Domain, e.Type, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// classifyTransport gives the result type of an error from connecting, the TLS handshake
// or reading the response: certificate validation failures are sts-webpki-invalid
// (RFC 8461 §3.3 requires a WebPKI-valid certificate for the mta-sts host), everything
// else is sts-policy-fetch-error.
func classifyTransport(err error) ResultType {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		serr x509.SystemRootsError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uerr), errors.As(err, &herr),
		errors.As(err, &cerr), errors.As(err, &serr):
		return ResultWebPKIInvalid
	}
	return ResultFetchError
}
