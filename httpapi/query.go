package httpapi

import (
	"net/url"
	"strings"
)

// profileParam returns the first value of the query parameter "profile" and how many
// there are, as u.Query() would give them. An ordinary query — no escapes, no '+', no
// ';' and short — is read in place without allocating; any other goes through
// url.ParseQuery's rules (u.Query()), so the answer is the same.
func profileParam(u *url.URL) (first string, n int) {
	raw := u.RawQuery
	if len(raw) > 1024 || strings.ContainsAny(raw, "%+;") {
		vals := u.Query()["profile"]
		if len(vals) == 0 {
			return "", 0
		}
		return vals[0], len(vals)
	}
	// Without '%' and '+', unescaping changes nothing and cannot fail; without ';' no
	// pair is refused; 1024 bytes are far fewer pairs than url's limit.
	for q := raw; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if k, v, _ := strings.Cut(pair, "="); k == "profile" {
			if n == 0 {
				first = v
			}
			n++
		}
	}
	return first, n
}
