package asn

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// TSV is an ip2asn-format database: one range per line, tab-separated
// "range_start range_end AS_number country_code AS_description"; AS number 0 means not
// routed. Ranges are kept sorted and searched in O(log n).
type TSV struct {
	ranges []ipRange
}

type ipRange struct {
	start, end netip.Addr
	asn        uint32
}

// maxTSVLine bounds one line of the file (descriptions are short; this refuses garbage).
const maxTSVLine = 4096

// OpenTSV reads an ip2asn TSV file (".gz" files are decompressed).
func OpenTSV(path string) (*TSV, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	}
	return ParseTSV(r)
}

// ParseTSV reads ip2asn TSV from r. A malformed line is an error naming its number.
func ParseTSV(r io.Reader) (*TSV, error) {
	db := &TSV{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxTSVLine), maxTSVLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: want start, end and AS number separated by tabs", n)
		}
		start, err1 := netip.ParseAddr(f[0])
		end, err2 := netip.ParseAddr(f[1])
		asn, err3 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil || start.Is4() != end.Is4() || end.Less(start) {
			return nil, fmt.Errorf("line %d: malformed range %q", n, line)
		}
		if asn != 0 {
			db.ranges = append(db.ranges, ipRange{start: start, end: end, asn: uint32(asn)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(db.ranges, func(a, b ipRange) int { return a.start.Compare(b.start) })
	return db, nil
}

// ASN implements DB.
func (t *TSV) ASN(ip netip.Addr) (uint32, bool) {
	ip = ip.Unmap()
	// The last range starting at or before ip is the only candidate (ranges do not overlap).
	i, found := slices.BinarySearchFunc(t.ranges, ip, func(r ipRange, ip netip.Addr) int { return r.start.Compare(ip) })
	if !found {
		i--
	}
	if i < 0 || i >= len(t.ranges) {
		return 0, false
	}
	r := t.ranges[i]
	if ip.Is4() != r.start.Is4() || r.end.Less(ip) {
		return 0, false
	}
	return r.asn, true
}

// Close implements DB.
func (t *TSV) Close() error { return nil }
