package httpapi

import (
	"strconv"

	"github.com/mailtls/mailtls/internal/jsonenc"
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
	b = jsonenc.AppendField(b, "next_hop", false)
	b = jsonenc.AppendString(b, d.Key)
	if d.Domain != "" {
		b = jsonenc.AppendField(b, "domain", true)
		b = jsonenc.AppendString(b, d.Domain)
	}
	b = jsonenc.AppendField(b, "profile", true)
	b = jsonenc.AppendString(b, d.Profile)
	b = jsonenc.AppendField(b, "result", true)
	b = jsonenc.AppendString(b, string(d.Result))
	if d.Level != "" {
		b = jsonenc.AppendField(b, "level", true)
		b = jsonenc.AppendString(b, d.Level)
	}
	if len(d.Match) > 0 {
		b = jsonenc.AppendField(b, "match", true)
		b = jsonenc.AppendStrings(b, d.Match)
	}
	if d.Servername != "" {
		b = jsonenc.AppendField(b, "servername", true)
		b = jsonenc.AppendString(b, d.Servername)
	}
	b = jsonenc.AppendField(b, "source", true)
	b = jsonenc.AppendString(b, string(d.Source))
	if d.Message != "" {
		b = jsonenc.AppendField(b, "message", true)
		b = jsonenc.AppendString(b, d.Message)
	}
	b = jsonenc.AppendField(b, "reasons", true)
	if reasons == nil {
		return append(b, '[', ']')
	}
	return jsonenc.AppendStrings(b, reasons)
}

// appendLive appends the fields of d that change between answers of the same facts.
// ok is false for an expiry JSON cannot carry (RFC 3339 years are 0000–9999), which
// encoding/json refuses as well.
func appendLive(b []byte, d *policy.Decision) (_ []byte, ok bool) {
	if !d.Expires.IsZero() {
		b = jsonenc.AppendField(b, "expires", true)
		if b, ok = jsonenc.AppendTimeUTC(b, d.Expires); !ok {
			return b, false
		}
	}
	b = jsonenc.AppendField(b, "cache_hit", true)
	return strconv.AppendBool(b, d.CacheHit), true
}

// appendTail appends the rest of d's body, whose socketmap reply is reply, up to the
// closing brace and a newline.
func appendTail(b []byte, d *policy.Decision, reply string) []byte {
	if p := &d.STS; !p.IsZero() {
		lines := p.PolicyLines()
		b = jsonenc.AppendField(b, "mta_sts", true)
		b = append(b, '{')
		b = jsonenc.AppendField(b, "domain", false)
		b = jsonenc.AppendString(b, p.Domain)
		b = jsonenc.AppendField(b, "id", true)
		b = jsonenc.AppendString(b, p.ID)
		b = jsonenc.AppendField(b, "mode", true)
		b = jsonenc.AppendString(b, p.Mode)
		b = jsonenc.AppendField(b, "max_age", true)
		b = strconv.AppendUint(b, uint64(p.MaxAge), 10)
		b = jsonenc.AppendField(b, "mx", true)
		b = jsonenc.AppendStrings(b, p.MX)
		b = jsonenc.AppendField(b, "lines", true)
		b = jsonenc.AppendStrings(b, lines)
		b = append(b, '}')
		// RFC 8460 §4.3: the policy fields a report names this policy by.
		b = jsonenc.AppendField(b, "tlsrpt", true)
		b = append(b, '{')
		b = jsonenc.AppendField(b, "policy_type", false)
		b = jsonenc.AppendString(b, "sts")
		b = jsonenc.AppendField(b, "policy_domain", true)
		b = jsonenc.AppendString(b, p.Domain)
		b = jsonenc.AppendField(b, "policy_string", true)
		b = jsonenc.AppendStrings(b, lines)
		b = jsonenc.AppendField(b, "mx_host_pattern", true)
		b = jsonenc.AppendStrings(b, p.MX)
		b = append(b, '}')
	}
	if hs, ok := d.DANEHosts(); ok {
		b = appendDANE(b, hs)
	}
	if w := d.Would; w != nil {
		b = jsonenc.AppendField(b, "would", true)
		b = append(b, '{')
		b = jsonenc.AppendField(b, "reply", false)
		b = jsonenc.AppendString(b, w.Reply)
		b = jsonenc.AppendField(b, "source", true)
		b = jsonenc.AppendString(b, string(w.Source))
		b = append(b, '}')
	}
	b = jsonenc.AppendField(b, "postfix_reply", true)
	b = jsonenc.AppendString(b, reply)
	return append(b, '}', '\n')
}

// appendDANE appends the "dane" member (openapi.yaml, schema DANE; Go type DANE).
func appendDANE(b []byte, hs *policy.DANEHosts) []byte {
	b = jsonenc.AppendField(b, "dane", true)
	b = append(b, '{')
	b = jsonenc.AppendField(b, "mx_secure", false)
	b = strconv.AppendBool(b, hs.MXSecure)
	b = jsonenc.AppendField(b, "no_mx", true)
	b = strconv.AppendBool(b, hs.NoMX)
	b = jsonenc.AppendField(b, "hosts", true)
	b = append(b, '[')
	for i := range hs.Hosts {
		h := &hs.Hosts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = jsonenc.AppendField(b, "name", false)
		b = jsonenc.AppendString(b, h.Name)
		b = jsonenc.AppendField(b, "preference", true)
		b = strconv.AppendUint(b, uint64(h.Preference), 10)
		if h.TLSABase != "" {
			b = jsonenc.AppendField(b, "tlsa_base", true)
			b = jsonenc.AppendString(b, h.TLSABase)
		}
		b = jsonenc.AppendField(b, "state", true)
		b = jsonenc.AppendString(b, h.State.String())
		if len(h.TLSA) > 0 {
			b = jsonenc.AppendField(b, "tlsa", true)
			b = append(b, '[')
			for j, t := range h.TLSA {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				b = jsonenc.AppendField(b, "usage", false)
				b = strconv.AppendUint(b, uint64(t.Usage), 10)
				b = jsonenc.AppendField(b, "selector", true)
				b = strconv.AppendUint(b, uint64(t.Selector), 10)
				b = jsonenc.AppendField(b, "matching_type", true)
				b = strconv.AppendUint(b, uint64(t.MatchingType), 10)
				b = jsonenc.AppendField(b, "data", true)
				b = jsonenc.AppendString(b, t.Data)
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
	b = jsonenc.AppendField(b, "status", false)
	b = strconv.AppendInt(b, int64(status), 10)
	b = jsonenc.AppendField(b, "error", true)
	b = jsonenc.AppendString(b, msg)
	return append(b, '}', '\n')
}
