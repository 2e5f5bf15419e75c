// Package compare holds the side-by-side benchmark of mailtls against
// postfix-mta-sts-resolver (the Debian package's mta-sts-daemon) and the null socketmap
// server, on the same cached workload over loopback. It has no library code: TestCompare
// is the harness, opt-in with MAILTLS_COMPARE=1, and meant to be run by
// scripts/compare.sh, which installs the peer and gives the run a network namespace of its
// own (only loopback, with its DNS server on 127.0.0.1:53, where the peer's resolver
// looks).
package compare
