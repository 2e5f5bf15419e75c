// Package policyid derives MTA-STS policy ids from policy content, so that the id a host
// publishes in its "_mta-sts" TXT record changes exactly when the policy it serves changes
// and never needs editing by hand (RFC 8461 §3.1: "id" is 1–32 alphanumerics that senders
// compare to decide whether to refetch).
package policyid

import (
	"crypto/sha256"
	"encoding/hex"
)

// Len is the length of an id: 32 hexadecimal digits, the most RFC 8461 §3.1 allows
// (sts-id = 1*32(ALPHA / DIGIT)), carrying 128 bits of the body's SHA-256.
const Len = 32

// Of returns the id of a policy body: the first 128 bits of SHA-256(body) in lower-case
// hex. Equal bodies give equal ids on every host and across restarts; any change to the
// body (a line, its order, its line endings) gives a new id.
func Of(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:Len/2])
}
