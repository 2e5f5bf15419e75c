// Package hosting is mailtls's MTA-STS policy host: for every domain the operator hosts it
// serves https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3) from memory,
// with a policy id derived from the policy's content (hosting/policyid), "mx: auto" kept in
// step with the domain's MX records, mirrored upstream policies (hosting/mirror), the safe
// removal procedure of RFC 8461 §8.3 (state.go), and the DNS records to publish
// (records.go). Certificates come from hosting/certs; the self-check lives in
// hosting/check. The daemon wires it in; this package knows nothing of the resolver role.
package hosting
