package certs

import (
	"encoding/base64"
	"strings"
)

// base64URL decodes an EAB MAC key as CAs hand them out: base64url, padding optional
// (RFC 8555 §7.3.4 uses the unpadded form).
func base64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
