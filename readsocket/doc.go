// Package readsocket is the line-protocol front end of mailtls for Exim's ${readsocket}
// expansion item (Exim specification, "String expansions": readsocket), on Unix or TCP
// sockets: the client writes one request line, "PROFILE NEXT-HOP" (or just "NEXT-HOP",
// or "- NEXT-HOP", for the configured default profile), and reads one reply line of
// whitespace-separated key=value pairs that Exim's ${extract{key}{…}} picks apart:
//
//	result=OK level=secure source=mta-sts mx=<;mx.example.com;*.example.net mx_regex=(?i)^(mx[.]example[.]com|[^.]+[.]example[.]net)$ expires=1767225600
//
// Exim's ${if match{$host}{${extract{mx_regex}{…}}}} then says whether an MX host is one
// the MTA-STS policy allows. Exim writes the request, shuts its side down (unless shutdown=no) and reads until the
// server closes, so the server answers once and closes the connection. Values never
// contain white space, quotes or backslashes, so no quoting is needed; lists use Exim's
// "<;" separator change (Exim specification, "Changing list separators") so that colons
// never occur inside them.
//
// Like the HTTP API it is a thin adapter over the daemon's Decide: the same decision,
// metrics and audit line as the socketmap.
package readsocket
