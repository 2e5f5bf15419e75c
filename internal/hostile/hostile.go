// Package hostile makes the DNS data and MTA-STS policies an attacker who controls a
// recipient domain publishes to make a resolver keep as much as possible for it: MX sets
// of over a thousand hosts, every host with a hundred addresses and a TLSA flood, an
// _mta-sts TXT RRset of some fifty kilobytes, a policy listing thousands of patterns.
// Records are made on the fly (dnstest.Server.SetSynth), so thousands of hostile domains
// cost the test nothing to hold. For the policy engine's bound tests and the soak run.
package hostile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// Zone describes the hostile domains under one suffix: every name "<label>.<Suffix>" is
// one. The zero counts of a field publish none of it.
type Zone struct {
	Suffix       string // e.g. "hostile.example"
	Hosts        int    // MX hosts with addresses and TLSA records (the resolver examines 10)
	JunkMX       int    // further MX records, of lower preference, pointing nowhere
	AddrsPerHost int    // A records of each MX host
	TLSAPerHost  int    // TLSA records of each MX host (DANE-EE SPKI SHA-256)
	TXT          int    // junk TXT records beside the valid MTA-STS record
	TXTLen       int    // bytes of each junk TXT record
	Patterns     int    // mx patterns of the policy
	PolicyHost   string // IPv4 address mta-sts.<domain> resolves to; "" publishes none
}

// Default is the flood the issue describes, sized to fit DNS messages (64 KiB over TCP)
// and the default policy size limit (64 KiB).
func Default(suffix string) Zone {
	return Zone{Suffix: suffix, Hosts: 10, JunkMX: 1200, AddrsPerHost: 100, TLSAPerHost: 300,
		TXT: 180, TXTLen: 250, Patterns: 2000}
}

// Name is the i-th hostile domain.
func (z Zone) Name(i int) string { return fmt.Sprintf("h%d.%s", i, z.Suffix) }

// Records returns the records owned by name (lower-case FQDN), for dnstest's SetSynth;
// nil for names outside the zone's shape.
func (z Zone) Records(name string) []dns.RR {
	suffix := "." + z.Suffix + "."
	if !strings.HasSuffix(name, suffix) {
		return nil
	}
	labels := strings.Split(strings.TrimSuffix(name, suffix), ".")
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 3600}
	}
	var out []dns.RR
	switch {
	case len(labels) == 1: // the domain: its MX set
		for i := range z.Hosts {
			out = append(out, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: fmt.Sprintf("m%d.%s", i, name)})
		}
		for i := range z.JunkMX {
			out = append(out, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: 20, Mx: fmt.Sprintf("j%d.%s", i, name)})
		}
	case len(labels) == 2 && labels[0] == "mta-sts":
		if ip := net.ParseIP(z.PolicyHost).To4(); ip != nil {
			out = append(out, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
		}
	case len(labels) == 2 && labels[0] == "_mta-sts":
		out = append(out, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{"v=STSv1; id=1;"}})
		for i := range z.TXT {
			out = append(out, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: chunks(filler(fmt.Sprintf("junk%d-", i), z.TXTLen))})
		}
	case len(labels) == 2 && strings.HasPrefix(labels[0], "m"): // an MX host: addresses
		for i := range z.AddrsPerHost {
			out = append(out, &dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(198, 18, byte(i/250), byte(1+i%250))})
		}
	case len(labels) == 4 && labels[0] == "_25" && labels[1] == "_tcp": // its TLSA RRset
		for i := range z.TLSAPerHost {
			sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", name, i)))
			out = append(out, &dns.TLSA{Hdr: hdr(dns.TypeTLSA), Usage: 3, Selector: 1, MatchingType: 1, Certificate: hex.EncodeToString(sum[:])})
		}
	}
	return out
}

// Policy is the MTA-STS policy body the policy host of domain serves: enforce, with the
// zone's count of mx patterns (the first ones naming its real hosts).
func (z Zone) Policy(domain string) string {
	var b strings.Builder
	b.WriteString("version: STSv1\nmode: enforce\n")
	for i := range max(z.Patterns, 1) {
		if i < z.Hosts {
			fmt.Fprintf(&b, "mx: m%d.%s\n", i, domain)
		} else {
			fmt.Fprintf(&b, "mx: p%d.%s\n", i, domain)
		}
	}
	b.WriteString("max_age: 86400\n")
	return b.String()
}

// filler is prefix padded to n bytes.
func filler(prefix string, n int) string {
	if n <= len(prefix) {
		return prefix[:n]
	}
	return prefix + strings.Repeat("x", n-len(prefix))
}

// chunks splits s into TXT character-strings of at most 255 bytes (RFC 1035 §3.3.14).
func chunks(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}
