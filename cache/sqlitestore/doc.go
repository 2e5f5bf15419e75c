// Package sqlitestore is the embedded persistent cache.Backend of mailtls: an
// SQLite database (pure Go driver, WAL journal) that keeps MTA-STS policies,
// DANE results and negative entries across restarts, so that a restarted
// daemon serves known policies at once (RFC 8461 §5.1 expects a sender to keep
// a policy until its max_age expires).
//
// Writes are write-behind. Put and Delete only record the operation in a
// bounded pending set; one writer goroutine applies everything pending in a
// single transaction every FlushInterval, and on Flush, Sweep and Close. A
// failed flush (read-only file, full disk) keeps the operations for the next
// attempt and Health reports the error, while reads keep seeing the pending
// writes, so the daemon goes on serving from memory. Crash safety comes from
// SQLite transactions: a flush is committed entirely or not at all.
//
// Times are stored as Unix seconds; Put truncates Expires and Updated to the
// second (in UTC) so that an entry reads back the same before and after it is
// flushed. A zero Expires means the entry never expires.
package sqlitestore
