// Package postfix310 holds the integration test of outbound TLS reporting against real
// Postfix 3.10 with libtlsrpt (Debian 13), run from the throwaway Debian root that
// scripts/install-test-deps.sh builds with mmdebstrap: Postfix's smtp(8) gets its TLS
// policy from mailtls's postfix-tlsrpt profile, sends its TLSRPT datagrams to mailtls's
// collector, and the day's reports are built from them. It has no non-test code.
package postfix310
