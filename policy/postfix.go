package policy

import (
	"strconv"
	"strings"
)

// PostfixReply renders d as a socketmap reply payload for smtp_tls_policy_maps
// (socketmap_table(5), postconf(5) smtp_tls_policy_maps):
//
//	OK secure match=mx.example.com:.example.net servername=hostname
//	NOTFOUND
//	TEMP <reason>
//
// With TLSRPT on (Postfix ≥ 3.10, TLSRPT_README), MTA-STS answers also carry
// policy_type=sts, policy_domain, policy_ttl, one mx_host_pattern per policy mx and one
// "{ policy_string = <line> }" per policy line.
//
// The engine renders the reply of a cached MTA-STS policy or an operator rule once and
// hands it over with the decision, so answering from the hot store allocates nothing.
func (d *Decision) PostfixReply() string {
	switch d.Result {
	case OK:
		if d.reply != "" {
			return d.reply
		}
		if len(d.Match) == 0 && d.Servername == "" && (!d.TLSRPT || d.STS.IsZero()) {
			if r := bareOK(d.Level); r != "" {
				return r
			}
		}
		var b strings.Builder
		b.WriteString("OK ")
		b.WriteString(d.Level)
		if len(d.Match) > 0 {
			// Fingerprints contain colons, so Postfix separates them with "|".
			sep := ":"
			if d.Level == "fingerprint" {
				sep = "|"
			}
			b.WriteString(" match=")
			b.WriteString(strings.Join(d.Match, sep))
		}
		if d.Servername != "" {
			b.WriteString(" servername=")
			b.WriteString(d.Servername)
		}
		if d.TLSRPT && !d.STS.IsZero() {
			writeTLSRPT(&b, &d.STS)
		}
		return b.String()
	case Temp, Perm:
		msg := d.Message
		if msg == "" {
			msg = "policy lookup failed"
		}
		return string(d.Result) + " " + oneLine(msg)
	default:
		return "NOTFOUND "
	}
}

// PostfixReplyWithin is PostfixReply for a reply limit of max bytes (Postfix's socketmap
// limit is 100 000, socketmap_table(5)). When the reply carries TLSRPT attributes and is
// longer than max — a policy with very many mx lines repeats each in mx_host_pattern and
// policy_string — it is the plain reply instead, which enforces the same policy and leaves
// out only the report data (TLSRPT_README); trimmed says so. Any other reply is returned
// whatever its length (the socketmap server refuses one over the limit).
func (d *Decision) PostfixReplyWithin(max int) (reply string, trimmed bool) {
	reply = d.PostfixReply()
	if len(reply) <= max || d.Result != OK || !d.TLSRPT || d.STS.IsZero() {
		return reply, false
	}
	plain := *d
	plain.TLSRPT, plain.reply = false, ""
	return plain.PostfixReply(), true
}

// bareOK is the reply for a level without attributes, for the levels DANE, ASN rules
// and overrides answer with (postconf(5) smtp_tls_policy_maps), without building it.
func bareOK(level string) string {
	switch level {
	case "dane":
		return "OK dane"
	case "dane-only":
		return "OK dane-only"
	case "encrypt":
		return "OK encrypt"
	case "verify":
		return "OK verify"
	case "secure":
		return "OK secure"
	case "may":
		return "OK may"
	case "none":
		return "OK none"
	}
	return ""
}

func writeTLSRPT(b *strings.Builder, p *STSPolicy) {
	b.WriteString(" policy_type=sts policy_domain=")
	b.WriteString(p.Domain)
	b.WriteString(" policy_ttl=")
	b.WriteString(strconv.FormatUint(uint64(p.MaxAge), 10))
	for _, mx := range p.MX {
		b.WriteString(" mx_host_pattern=")
		b.WriteString(mx)
	}
	for _, line := range p.PolicyLines() {
		// A brace would end Postfix's { name = value } grouping early; such lines
		// (only possible in extension values) are left out of the report data.
		if strings.ContainsAny(line, "{}") {
			continue
		}
		b.WriteString(" { policy_string = ")
		b.WriteString(oneLine(line))
		b.WriteString(" }")
	}
}

// oneLine keeps a reply on one line: control characters become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
