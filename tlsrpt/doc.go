// Package tlsrpt is the SMTP TLS Reporting report model of RFC 8460: the JSON report of
// §4 (Report and its members), the result types of §4.3, the TLSRPT DNS record of §3 and
// the JSON Schema of the report format written from §4 (schema/report.schema.json).
//
// It holds no state and does no I/O: the collector (tlsrpt/collector) aggregates the
// TLS results Postfix sends, the reporter (tlsrpt/reporter) builds and delivers the daily
// reports, and both share the store in tlsrpt/store. Inbound reporting can parse reports
// with the same types.
package tlsrpt
