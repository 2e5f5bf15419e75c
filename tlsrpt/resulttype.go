package tlsrpt

// ResultType is an RFC 8460 §4.3 result type.
type ResultType string

// The result types of RFC 8460 §4.3.
const (
	// §4.3.1 negotiation failures.
	StartTLSNotSupported    ResultType = "starttls-not-supported"
	CertificateHostMismatch ResultType = "certificate-host-mismatch"
	CertificateExpired      ResultType = "certificate-expired"
	CertificateNotTrusted   ResultType = "certificate-not-trusted"
	ValidationFailure       ResultType = "validation-failure"
	// §4.3.2.1 policy failures, DANE.
	TLSAInvalid   ResultType = "tlsa-invalid"
	DNSSECInvalid ResultType = "dnssec-invalid"
	DANERequired  ResultType = "dane-required"
	// §4.3.2.2 policy failures, MTA-STS.
	STSPolicyFetchError ResultType = "sts-policy-fetch-error"
	STSPolicyInvalid    ResultType = "sts-policy-invalid"
	STSWebPKIInvalid    ResultType = "sts-webpki-invalid"
)

// ResultTypeForCode returns the result type of a libtlsrpt failure code (201–205,
// 301–306) and whether the code is known.
func ResultTypeForCode(code int) (ResultType, bool) {
	switch code {
	case 201:
		return StartTLSNotSupported, true
	case 202:
		return CertificateHostMismatch, true
	case 203:
		return CertificateNotTrusted, true
	case 204:
		return CertificateExpired, true
	case 205:
		return ValidationFailure, true
	case 301:
		return STSPolicyFetchError, true
	case 302:
		return STSPolicyInvalid, true
	case 303:
		return STSWebPKIInvalid, true
	case 304:
		return TLSAInvalid, true
	case 305:
		return DNSSECInvalid, true
	case 306:
		return DANERequired, true
	}
	return "", false
}

// Known reports whether t is one of RFC 8460 §4.3's result types.
func (t ResultType) Known() bool {
	switch t {
	case StartTLSNotSupported, CertificateHostMismatch, CertificateExpired, CertificateNotTrusted,
		ValidationFailure, TLSAInvalid, DNSSECInvalid, DANERequired,
		STSPolicyFetchError, STSPolicyInvalid, STSWebPKIInvalid:
		return true
	}
	return false
}
