package httpapi

import (
	"strconv"
	"time"

	"github.com/mailtls/mailtls/policy"
)

// The body of a 200 answer (openapi.yaml, schema Decision; Go type Response) is encoded
// in three parts, in the order of Response's fields:
//
//	head  {"next_hop":…,"domain":…,"profile":…,"result":…,"level":…,"match":[…],
//	      "servername":…,"source":…,"message":…,"reasons":[…]
//	live  ,"expires":"…","cache_hit":…
//	tail  ,"mta_sts":{…},"tlsrpt":{…},"dane":{…},"would":{…},"postfix_reply":"…"}
//
// The head and tail of a cached decision stay the same from one hit to the next and are
// kept (bodyCache); the live part changes (a miss, then hits) and is encoded each time.

// appendHead appends the head of d's body with the rendered reasons.
func appendHead(b []byte, d *policy.Decision, reasons []string) []byte {
	b = append(b, '{')
	b = appendField(b, "next_hop", false)
	b = appendString(b, d.Key)
	if d.Domain != "" {
		b = appendField(b, "domain", true)
		b = appendString(b, d.Domain)
	}
	b = appendField(b, "profile", true)
	b = appendString(b, d.Profile)
	b = appendField(b, "result", true)
	b = appendString(b, string(d.Result))
	if d.Level != "" {
		b = appendField(b, "level", true)
		b = appendString(b, d.Level)
	}
	if len(d.Match) > 0 {
		b = appendField(b, "match", true)
		b = appendStrings(b, d.Match)
	}
	if d.Servername != "" {
		b = appendField(b, "servername", true)
		b = appendString(b, d.Servername)
	}
	b = appendField(b, "source", true)
	b = appendString(b, string(d.Source))
	if d.Message != "" {
		b = appendField(b, "message", true)
		b = appendString(b, d.Message)
	}
	b = appendField(b, "reasons", true)
	if reasons == nil {
		return append(b, '[', ']')
	}
	return appendStrings(b, reasons)
}

// appendLive appends the fields of d that change between answers of the same facts.
// ok is false for an expiry JSON cannot carry (RFC 3339 years are 0000–9999), which
// encoding/json refuses as well.
func appendLive(b []byte, d *policy.Decision) (_ []byte, ok bool) {
	if !d.Expires.IsZero() {
		t := d.Expires.UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = appendField(b, "expires", true)
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendField(b, "cache_hit", true)
	return strconv.AppendBool(b, d.CacheHit), true
}

// appendTail appends the rest of d's body, whose socketmap reply is reply, up to the
// closing brace and a newline.
func appendTail(b []byte, d *policy.Decision, reply string) []byte {
	if p := &d.STS; !p.IsZero() {
		lines := p.PolicyLines()
		b = appendField(b, "mta_sts", true)
		b = append(b, '{')
		b = appendField(b, "domain", false)
		b = appendString(b, p.Domain)
		b = appendField(b, "id", true)
		b = appendString(b, p.ID)
		b = appendField(b, "mode", true)
		b = appendString(b, p.Mode)
		b = appendField(b, "max_age", true)
		b = strconv.AppendUint(b, uint64(p.MaxAge), 10)
		b = appendField(b, "mx", true)
		b = appendStrings(b, p.MX)
		b = appendField(b, "lines", true)
		b = appendStrings(b, lines)
		b = append(b, '}')
		// RFC 8460 §4.3: the policy fields a report names this policy by.
		b = appendField(b, "tlsrpt", true)
		b = append(b, '{')
		b = appendField(b, "policy_type", false)
		b = appendString(b, "sts")
		b = appendField(b, "policy_domain", true)
		b = appendString(b, p.Domain)
		b = appendField(b, "policy_string", true)
		b = appendStrings(b, lines)
		b = appendField(b, "mx_host_pattern", true)
		b = appendStrings(b, p.MX)
		b = append(b, '}')
	}
	if hs, ok := d.DANEHosts(); ok {
		b = appendDANE(b, hs)
	}
	if w := d.Would; w != nil {
		b = appendField(b, "would", true)
		b = append(b, '{')
		b = appendField(b, "reply", false)
		b = appendString(b, w.Reply)
		b = appendField(b, "source", true)
		b = appendString(b, string(w.Source))
		b = append(b, '}')
	}
	b = appendField(b, "postfix_reply", true)
	b = appendString(b, reply)
	return append(b, '}', '\n')
}

// appendDANE appends the "dane" member (openapi.yaml, schema DANE; Go type DANE).
func appendDANE(b []byte, hs *policy.DANEHosts) []byte {
	b = appendField(b, "dane", true)
	b = append(b, '{')
	b = appendField(b, "mx_secure", false)
	b = strconv.AppendBool(b, hs.MXSecure)
	b = appendField(b, "no_mx", true)
	b = strconv.AppendBool(b, hs.NoMX)
	b = appendField(b, "hosts", true)
	b = append(b, '[')
	for i := range hs.Hosts {
		h := &hs.Hosts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendField(b, "name", false)
		b = appendString(b, h.Name)
		b = appendField(b, "preference", true)
		b = strconv.AppendUint(b, uint64(h.Preference), 10)
		if h.TLSABase != "" {
			b = appendField(b, "tlsa_base", true)
			b = appendString(b, h.TLSABase)
		}
		b = appendField(b, "state", true)
		b = appendString(b, h.State.String())
		if len(h.TLSA) > 0 {
			b = appendField(b, "tlsa", true)
			b = append(b, '[')
			for j, t := range h.TLSA {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				b = appendField(b, "usage", false)
				b = strconv.AppendUint(b, uint64(t.Usage), 10)
				b = appendField(b, "selector", true)
				b = strconv.AppendUint(b, uint64(t.Selector), 10)
				b = appendField(b, "matching_type", true)
				b = strconv.AppendUint(b, uint64(t.MatchingType), 10)
				b = appendField(b, "data", true)
				b = appendString(b, t.Data)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, ']', '}')
}

// appendError appends the body of a non-200 answer (openapi.yaml, schema Error).
func appendError(b []byte, status int, msg string) []byte {
	b = append(b, '{')
	b = appendField(b, "status", false)
	b = strconv.AppendInt(b, int64(status), 10)
	b = appendField(b, "error", true)
	b = appendString(b, msg)
	return append(b, '}', '\n')
}
