// Package mtasts implements SMTP MTA Strict Transport Security (RFC 8461) as a library:
// the "_mta-sts" TXT record (§3.1), the policy file format (§3.2), fetching the policy over
// HTTPS (§3.3) and matching MX host names against policy patterns (§4.1; the policy host's
// self-check uses it — the resolver leaves matching to Postfix, see policy.postfixMatch).
//
// It keeps no cache and knows nothing about Postfix: the policy engine decides when to
// look up and fetch, caches the results (§5.1) and turns policies into answers. Fetch
// failures carry the RFC 8460 §4.3 result type that TLS reporting needs.
package mtasts
