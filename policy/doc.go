// Package policy is mailtls's decision engine: for one next-hop it decides the TLS policy
// in the order of conformance.md §2 — operator overrides, DANE (RFC 7672), MTA-STS
// (RFC 8461), then the profile's default — and returns a Decision that carries the answer
// and every reason behind it. Every front end (socketmap, CLI, later HTTP) answers from the
// same Decision.
//
// The engine caches per-domain facts (the MTA-STS record and policy with their timers,
// later the DANE result) in a hot in-memory store, persists them write-behind, coalesces
// concurrent cold lookups per domain and refreshes hot entries in the background.
package policy
