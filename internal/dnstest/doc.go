// Package dnstest is an in-process DNS server for mailtls's unit tests. It behaves like a
// validating recursive resolver in front of test data: it follows CNAMEs inside its own
// data, sets the AD bit for names marked Secure when the query asked for DNSSEC (DO=1 or
// AD=1, RFC 6840 §5.7), answers SERVFAIL for names marked Bogus (what a validating
// resolver does for data that fails validation, RFC 4035 §5.5), and can be told to stall,
// refuse, delay or reply with arbitrary bytes so that client fallbacks can be tested.
//
// It listens on 127.0.0.1 only, UDP and TCP on the same port.
package dnstest
