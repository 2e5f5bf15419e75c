// Package mtasts implements SMTP MTA Strict Transport Security (RFC 8461) as a library:
// the "_mta-sts" TXT record (§3.1), the policy file format (§3.2) and fetching the policy
// over HTTPS (§3.3). MX host matching (§4.1) is left to Postfix: the policy engine hands it
// the patterns as match= (see policy.postfixMatch for how a wildcard is translated).
//
// It keeps no cache and knows nothing about Postfix: the policy engine decides when to
// look up and fetch, caches the results (§5.1) and turns policies into answers. Fetch
// failures carry the RFC 8460 §4.3 result type that TLS reporting needs.
package mtasts
