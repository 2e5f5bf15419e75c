package tlsrpt

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// RecordPrefix starts every TLSRPT record (RFC 8460 §3).
const RecordPrefix = "v=TLSRPTv1"

// Record is a parsed TLSRPT TXT record (RFC 8460 §3), published at _smtp._tls.<domain>.
type Record struct {
	// RUA are the aggregate report destinations, mailto: or https: URIs, in order.
	RUA []*url.URL
}

// ErrNoRecord is returned by SelectRecord when the TXT strings hold no single TLSRPT
// record.
var ErrNoRecord = errors.New("tlsrpt: no single v=TLSRPTv1 record")

// SelectRecord picks the TLSRPT record among a name's TXT records (each the
// concatenation of its strings): records not starting with "v=TLSRPTv1;" are discarded,
// and unless exactly one remains the domain does not implement TLSRPT (RFC 8460 §3).
func SelectRecord(txts []string) (string, error) {
	var found []string
	for _, t := range txts {
		if isRecord(t) {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%w (%d found)", ErrNoRecord, len(found))
	}
	return found[0], nil
}

func isRecord(t string) bool {
	rest, ok := strings.CutPrefix(strings.TrimLeft(t, " \t"), RecordPrefix)
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

// ParseRecord parses a TLSRPT record: "v=TLSRPTv1" first, then fields separated by ";"
// with optional white space; rua is required and lists comma-separated URIs, of which
// only mailto: and https: are used (§3: other schemes are ignored). Unknown fields are
// extensions and ignored. A record with no usable rua is an error.
func ParseRecord(txt string) (*Record, error) {
	if !isRecord(txt) {
		return nil, fmt.Errorf("tlsrpt: record %q does not start with %s", txt, RecordPrefix)
	}
	fields := strings.Split(txt, ";")
	rec := &Record{}
	seenRUA := false
	for _, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("tlsrpt: record field %q has no '='", f)
		}
		if strings.TrimSpace(k) != "rua" {
			continue
		}
		if seenRUA {
			return nil, fmt.Errorf("tlsrpt: record has more than one rua field")
		}
		seenRUA = true
		for _, raw := range strings.Split(v, ",") {
			u, err := ParseRUA(strings.Trim(raw, " \t"))
			if err != nil {
				continue // §3: a URI of an unknown scheme is ignored
			}
			rec.RUA = append(rec.RUA, u)
		}
	}
	if len(rec.RUA) == 0 {
		return nil, fmt.Errorf("tlsrpt: record %q has no usable rua (mailto: or https:)", txt)
	}
	return rec, nil
}

// ParseRUA parses one rua URI: a mailto: with one valid address, or an https: URL with
// a host.
func ParseRUA(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: rua %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		if _, err := mail.ParseAddress(MailtoAddress(u)); err != nil || u.Opaque == "" {
			return nil, fmt.Errorf("tlsrpt: rua %q: not one mail address", raw)
		}
	case "https":
		if u.Host == "" {
			return nil, fmt.Errorf("tlsrpt: rua %q: no host", raw)
		}
	default:
		return nil, fmt.Errorf("tlsrpt: rua %q: scheme is neither mailto nor https", raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// MailtoAddress is the address of a mailto: URI (percent-decoded, RFC 6068).
func MailtoAddress(u *url.URL) string {
	if a, err := url.PathUnescape(u.Opaque); err == nil {
		return a
	}
	return u.Opaque
}
