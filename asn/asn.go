package asn

import (
	"fmt"
	"net/netip"
	"strings"
)

// DB answers which autonomous system an address belongs to.
type DB interface {
	// ASN returns the AS number announcing ip, or false when the database has none.
	ASN(ip netip.Addr) (uint32, bool)
	Close() error
}

// Open reads the database at path: ".mmdb" files as MaxMind databases, anything else as
// ip2asn TSV (optionally gzip-compressed, ".gz").
func Open(path string) (DB, error) {
	if strings.HasSuffix(path, ".mmdb") {
		return OpenMMDB(path)
	}
	db, err := OpenTSV(path)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	return db, nil
}
