// Package socketmap is the Postfix socketmap front end of mailtls: a netstring codec and a
// server that decodes socketmap requests, hands them to a Handler and writes its replies.
//
// The wire protocol is Postfix's socketmap_table(5): every request and every reply is one
// netstring (the "<len>:<bytes>," format); a request is "name<SPACE>key" and a reply is
// "OK <data>", "NOTFOUND ", "TEMP <reason>", "TIMEOUT <reason>" or "PERM <reason>".
// Connections are persistent and may carry pipelined requests, which are answered in order,
// one at a time per connection; the replies to requests that arrived together are written
// together, and never held back waiting for input (nor behind a slow lookup whose Handler
// calls Flush before it waits).
//
// The package knows nothing about TLS policies: what a reply says is the Handler's business
// (conformance.md §1). The server only guarantees the framing, the size limits
// (requests ≤ 10 000 bytes, replies ≤ 100 000 bytes, as Postfix enforces them), the
// timeouts, and that neither a hostile client nor a panicking handler can take the daemon down.
package socketmap
