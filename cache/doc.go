// Package cache holds mailtls's per-domain facts between lookups.
//
// It has two layers. Memory is the hot store the policy engine reads on every
// request: a sharded, bounded map that answers without disk or network and
// without allocating. Backend is the persistent layer behind it: the engine
// writes each MTA-STS policy (RFC 8461 §5.1 asks senders to cache policies
// until max_age expires, across restarts), DANE result and negative entry
// through a Backend, write-behind, so that a restarted daemon serves known
// policies at once. The embedded SQLite backend lives in cache/sqlitestore.
package cache
