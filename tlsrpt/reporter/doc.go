// Package reporter builds the daily RFC 8460 reports from the TLS reporting store after
// each UTC midnight and delivers them to the rua destinations of the TLSRPT record seen
// during the day: https: by POST (RFC 8460 §5.2), mailto: as a DKIM-signed
// multipart/report message (§5.3). Deliveries are recorded in the store, spread over a
// window, retried with back-off for at least a day, and never repeated once recorded as
// sent, across restarts.
package reporter
