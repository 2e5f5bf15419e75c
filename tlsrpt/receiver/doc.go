// Package receiver is inbound TLS reporting (RFC 8460): it takes the reports other
// senders send about our domains — over HTTPS (§5.2, POST application/tlsrpt+gzip or
// application/tlsrpt+json) or by mail (§5.3, multipart/report; report-type=tlsrpt,
// accepted only with an aligned, verifying DKIM signature) — parses them liberally in
// shape and strictly in limits, stores each report once (by organisation and report-id)
// with its raw original, and answers summaries over what was stored.
//
// The report model is tlsrpt's; this package adds the bounded decoding, the storage
// (its own SQLite file, plain SQL types a PostgreSQL backend can share) and the
// analysis.
package receiver
