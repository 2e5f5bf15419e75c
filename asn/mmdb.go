package asn

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/oschwald/maxminddb-golang/v2"
)

// MMDB is a MaxMind-format ASN database (records with autonomous_system_number).
type MMDB struct {
	r *maxminddb.Reader
}

// OpenMMDB reads a MaxMind-format database into memory (an ASN database is a few MB).
// Not memory-mapping it lets a reload drop the old database while lookups may still use
// it: the garbage collector frees it when the last one ends.
func OpenMMDB(path string) (*MMDB, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	return &MMDB{r: r}, nil
}

// ASN implements DB.
func (m *MMDB) ASN(ip netip.Addr) (uint32, bool) {
	var rec struct {
		ASN uint32 `maxminddb:"autonomous_system_number"`
	}
	res := m.r.Lookup(ip.Unmap())
	if !res.Found() || res.Decode(&rec) != nil || rec.ASN == 0 {
		return 0, false
	}
	return rec.ASN, true
}

// Close implements DB; the in-memory database needs no closing.
func (m *MMDB) Close() error { return nil }
