// Package compare holds the side-by-side benchmark of mailtls against
// postfix-mta-sts-resolver (the Debian package's mta-sts-daemon) and the null socketmap
// server, on the same cached workload over loopback. It has no library code: TestCompare
// is the harness, opt-in with MAILTLS_COMPARE=1, and meant to be run by
// scripts/compare.sh, which installs the peer and Unbound and gives the run a network
// namespace of its own: only loopback, with resolv.conf naming 127.0.0.1, where the
// harness runs Unbound as the peer's caching resolver in front of the lab's DNS server.
package compare
