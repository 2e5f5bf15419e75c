// Package certs provides the policy host's certificates (RFC 8461 §3.3: senders require
// a certificate valid for mta-sts.<domain> under the WebPKI): from an ACME CA (RFC 8555)
// through golang.org/x/crypto/acme/autocert — TLS-ALPN-01 (RFC 8737) on the HTTPS
// listener, HTTP-01 on an optional plain-HTTP listener that answers nothing else — for
// hosted names only, with the account key and certificates in the state directory and
// renewal before expiry; or from certificate and key files per domain, reloaded on
// SIGHUP.
package certs
