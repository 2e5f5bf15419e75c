package hosting

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/mtasts"
)

// The records are valid zone-file lines: the policy host, "_mta-sts" TXT with the served
// id (RFC 8461 §3.1), "_smtp._tls" TXT (RFC 8460 §3) when configured.
func TestRecords(t *testing.T) {
	p := Render("example.com", mtasts.ModeEnforce, []string{"mx.example.com"}, 86400, SourceConfig)
	var b bytes.Buffer
	if err := WriteRecords(&b, p, RecordOptions{Address: []string{"192.0.2.10", "2001:db8::10"}, TLSRPT: "mailto:tls@example.com"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"mta-sts.example.com.\t3600\tIN\tA\t192.0.2.10",
		"mta-sts.example.com.\t3600\tIN\tAAAA\t2001:db8::10",
		"_mta-sts.example.com.\t300\tIN\tTXT\t\"v=STSv1; id=" + p.ID + "\"",
		"_smtp._tls.example.com.\t3600\tIN\tTXT\t\"v=TLSRPTv1; rua=mailto:tls@example.com\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("records lack %q:\n%s", want, out)
		}
	}
	// The TXT record's text is what the resolver's parser accepts.
	rrs, _ := Records(p, RecordOptions{CNAME: "policy.example.net"})
	if !strings.Contains(rrs[0].String(), "CNAME\tpolicy.example.net.") {
		t.Errorf("CNAME record %s", rrs[0])
	}
	if rec, err := mtasts.ParseRecord(strings.Join(rrs[1].(*dns.TXT).Txt, "")); err != nil || rec.ID != p.ID {
		t.Errorf("TXT parse: %v", err)
	}
	if _, err := Records(failed("x.example", SourceMXAuto, "no MX"), RecordOptions{}); err == nil {
		t.Error("records for a domain with no policy")
	}
}
