package asn

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeTestMMDB writes a tiny MaxMind-format ASN database mapping each CIDR to an AS.
func writeTestMMDB(t *testing.T, nets map[string]uint32) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, asn := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(asn), "autonomous_system_organization": mmdbtype.String("Test AS")}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDatabases(t *testing.T) {
	mmdb := writeTestMMDB(t, map[string]uint32{"192.0.2.0/24": 64500, "2001:db8::/32": 64501, "198.51.100.0/25": 64502})
	tsv := filepath.Join(t.TempDir(), "ip2asn.tsv")
	os.WriteFile(tsv, []byte(strings.Join([]string{
		"# ip2asn",
		"192.0.2.0\t192.0.2.255\t64500\tZZ\tTEST-A",
		"198.51.100.0\t198.51.100.127\t64502\tZZ\tTEST-C",
		"198.51.100.128\t198.51.100.255\t0\tNone\tNot routed",
		"2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64501\tZZ\tTEST-B",
	}, "\n")+"\n"), 0o644)
	cases := []struct {
		ip  string
		asn uint32
		ok  bool
	}{
		{"192.0.2.7", 64500, true},
		{"::ffff:192.0.2.7", 64500, true},
		{"2001:db8::25", 64501, true},
		{"198.51.100.5", 64502, true},
		{"198.51.100.200", 0, false},
		{"203.0.113.1", 0, false},
		{"2001:db9::1", 0, false},
	}
	for _, path := range []string{mmdb, tsv} {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			asn, ok := db.ASN(netip.MustParseAddr(c.ip))
			if asn != c.asn || ok != c.ok {
				t.Errorf("%s: ASN(%s) = %d, %v; want %d, %v", filepath.Base(path), c.ip, asn, ok, c.asn, c.ok)
			}
		}
		db.Close()
	}
}

func TestBadDatabases(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	os.WriteFile(garbage, []byte("not a database"), 0o644)
	if _, err := Open(garbage); err == nil {
		t.Error("garbage .mmdb opened")
	}
	for _, body := range []string{"192.0.2.0\t192.0.2.255\n", "192.0.2.9\t192.0.2.0\t1\n", "192.0.2.0\t2001:db8::\t1\n", "x\ty\tz\n", strings.Repeat("a", 10000) + "\n"} {
		p := filepath.Join(dir, "bad.tsv")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := Open(p); err == nil {
			t.Errorf("malformed TSV %.40q accepted", body)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.tsv")); err == nil {
		t.Error("missing file opened")
	}
}
