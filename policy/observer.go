package policy

// STSObserver is told of MTA-STS policy fetch failures the resolver itself sees, which
// no MTA can report (RFC 8460 §4.3.2.2: sts-policy-fetch-error, sts-policy-invalid,
// sts-webpki-invalid). It must return at once: it is called on the fetch path.
type STSObserver interface {
	// STSFetchFailed reports a failed fetch of domain's policy: resultType is the RFC
	// 8460 result type, reason the error text.
	STSFetchFailed(domain, resultType, reason string)
}
