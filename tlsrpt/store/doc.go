// Package store is the TLS reporting database: the day's aggregated TLS results (per UTC
// day, recipient domain, TLSRPT record and policy), the reports built from them and the
// state of each report's delivery to each rua destination. It is one SQLite file
// (modernc.org/sqlite, WAL journal) of its own, beside the policy cache, so that the
// reporting workload never contends with the cache's writer.
package store
