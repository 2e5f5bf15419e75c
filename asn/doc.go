// Package asn maps IP addresses to autonomous system numbers from an offline database the
// operator supplies: MaxMind-format ASN databases (.mmdb, e.g. GeoLite2-ASN, read with
// github.com/oschwald/maxminddb-golang) or the public ip2asn TSV format. mailtls uses it
// for ASN rules: "require at least encrypt for domains whose MX hosts are all in these
// networks".
package asn
