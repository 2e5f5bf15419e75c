// Package httpapi is the HTTP JSON front end of mailtls, for MTAs other than Postfix
// (Haraka, scripts, anyone): GET /v1/policy/{next-hop}?profile=NAME answers with the same
// decision the socketmap gives — level, MX patterns, source, reasons, expiry and the MTA-STS
// policy behind it with its TLSRPT (RFC 8460 §4.3) policy fields — as the JSON described by
// openapi.yaml, which the package serves at GET /v1/openapi.yaml.
//
// It is a thin adapter: the decision, its metrics and its audit line come from a Decider
// (the daemon), exactly as for the socketmap. The HTTP status describes the API call (200
// for any decision, TEMP included; 4xx for a bad request); errors are JSON. A bearer token
// (RFC 6750 §2.1) is checked when one is configured.
package httpapi
