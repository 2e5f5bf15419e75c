// Package loadgen drives a socketmap server (Postfix's smtp_tls_policy_maps protocol,
// socketmap_table(5)) with a measured load, and provides the null server that gives every
// run its loopback ceiling: a socketmap server that answers each request with one fixed
// reply and does nothing else.
//
// Two modes, as BENCHMARKS.md describes: strict request→reply on each of C connections
// (what Postfix's smtp(8) processes do, one lookup at a time per connection), and
// pipelined, where each connection keeps up to P requests in flight. Latency is recorded
// per request in a log-linear histogram (bounded memory, about 1.6% resolution), so a long
// run at a high rate costs no more memory than a short one.
package loadgen
