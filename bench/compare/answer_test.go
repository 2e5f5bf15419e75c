package compare

import (
	"slices"
	"strings"
	"testing"
)

// answer is what the comparison looks at in a socketmap reply: its kind (OK, NOTFOUND,
// TEMP, PERM), and for OK the policy level and the set of match patterns. Other
// attributes (servername=hostname, TLSRPT data) are left out: both daemons send
// servername=hostname, and mailtls's postfix profile sends nothing more.
type answer struct {
	kind, level string
	match       []string // sorted
}

func parseAnswer(reply string) answer {
	f := strings.Fields(reply)
	if len(f) == 0 {
		return answer{}
	}
	a := answer{kind: f[0]}
	if a.kind != "OK" {
		return a
	}
	if len(f) > 1 {
		a.level = f[1]
	}
	for _, attr := range f[min(2, len(f)):] {
		if v, ok := strings.CutPrefix(attr, "match="); ok {
			a.match = strings.Split(v, ":")
			slices.Sort(a.match)
		}
	}
	return a
}

func (a answer) equal(b answer) bool {
	return a.kind == b.kind && a.level == b.level && slices.Equal(a.match, b.match)
}

func (a answer) String() string {
	if a.kind != "OK" {
		return a.kind
	}
	return a.kind + " " + a.level + " match=" + strings.Join(a.match, ":")
}

func TestParseAnswer(t *testing.T) {
	mailtls := parseAnswer("OK secure match=mx.a.example:.backup.a.example servername=hostname")
	peer := parseAnswer("OK secure match=.backup.a.example:mx.a.example servername=hostname")
	if !mailtls.equal(peer) {
		t.Errorf("match order should not matter: %v vs %v", mailtls, peer)
	}
	if got := parseAnswer("NOTFOUND "); !got.equal(answer{kind: "NOTFOUND"}) {
		t.Errorf("NOTFOUND with a trailing space: %v", got)
	}
	if parseAnswer("OK secure match=mx.a.example").equal(parseAnswer("OK secure match=mx.b.example")) {
		t.Error("different match lists compare equal")
	}
	if parseAnswer("OK dane-only").equal(parseAnswer("OK secure")) {
		t.Error("different levels compare equal")
	}
}
