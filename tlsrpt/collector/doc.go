// Package collector receives the TLS results Postfix ≥ 3.10 sends through libtlsrpt (one
// JSON datagram per delivery attempt on a Unix datagram socket, see
// shared/spec/tlsrpt.md §1) and the MTA-STS failures the resolver itself observes, and
// aggregates them per UTC day, recipient domain, TLSRPT record and policy (RFC 8460 §4)
// into the TLS reporting store.
//
// The socket is read in a tight loop (Linux queues few datagrams per socket and libtlsrpt
// sends without blocking); parsing and aggregation happen on another goroutine and the
// store is written behind, in batches, so that neither a burst of datagrams nor a slow
// disk reaches the resolver. Bad datagrams are counted and logged at a bounded rate.
package collector
