package mtasts

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// This file checks ParseRecord and ParsePolicy against the ABNF of RFC 8461 §3.1 and §3.2,
// written out a second time, independently of the parsers: each rule is a regular
// expression built from the rules it uses, and the records and policies are generated
// from the same rules. The parsers must accept exactly what the grammar accepts (plus
// the semantic rules the RFC states in prose), and give the same id, mode, max_age and
// mx list.

// The rules of RFC 8461 §3.1 and §3.2 (RFC 5234 core rules: WSP = SP / HTAB).
const (
	abnfWSP     = `[ \t]`
	abnfExtName = `[A-Za-z0-9][A-Za-z0-9_.-]{0,31}` // sts-ext-name, sts-policy-ext-name
	// sts-text-record.
	abnfSTSID       = `id=[A-Za-z0-9]{1,32}`
	abnfSTSExtValue = `[\x21-\x3a\x3c\x3e-\x7e]+`
	abnfSTSField    = `(?:` + abnfSTSID + `|` + abnfExtName + `=` + abnfSTSExtValue + `)`
	abnfSTSDelim    = abnfWSP + `*;` + abnfWSP + `*`
	abnfTextRecord  = `^v=STSv1(?:` + abnfSTSDelim + abnfSTSField + `)+(?:` + abnfSTSDelim + `)?$`
	// sts-policy-record. sts-policy-vchar = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4: on valid
	// UTF-8 (checked apart), any character above U+007F.
	abnfVChar       = `(?:[\x21-\x7e]|[^\x00-\x7f])`
	abnfPolicyValue = abnfVChar + `(?:(?: |` + abnfVChar + `)*` + abnfVChar + `)?`
	abnfPolicyField = `(?:` + abnfExtName + `:` + abnfWSP + `*` + abnfPolicyValue + `)`
	// The field may be empty: sts-policy-field's 0*(sts-policy-mx …) alternative matches
	// the empty string.
	abnfTerm         = `(?:\r\n|\n)`
	abnfPolicyRecord = `^` + abnfPolicyField + `?` + abnfWSP + `*(?:` + abnfTerm + abnfPolicyField + `?` + abnfWSP + `*)*` + abnfTerm + `?$`
	// sts-policy-mx-value = ["*."] Domain; Domain = sub-domain *("." sub-domain) (RFC 5321
	// §4.1.2).
	abnfSubDomain = `[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?`
	abnfMXValue   = `^(?:\*\.)?` + abnfSubDomain + `(?:\.` + abnfSubDomain + `)*$`
)

// abnf holds the compiled rules (test state, built per test).
type abnf struct {
	record, policy, field, term, mx, id, maxAge *regexp.Regexp
}

func newABNF() *abnf {
	return &abnf{
		record: regexp.MustCompile(abnfTextRecord),
		policy: regexp.MustCompile(abnfPolicyRecord),
		field:  regexp.MustCompile(`^(` + abnfExtName + `):` + abnfWSP + `*(` + abnfPolicyValue + `)` + abnfWSP + `*$`),
		term:   regexp.MustCompile(abnfTerm),
		mx:     regexp.MustCompile(abnfMXValue),
		id:     regexp.MustCompile(`^` + abnfSTSID + `$`),
		maxAge: regexp.MustCompile(`^[0-9]{1,10}$`),
	}
}

// recordID is what the grammar says of txt: whether it is an sts-text-record with an
// sts-id (required), and the id of its first sts-id field.
func (g *abnf) recordID(txt string) (string, bool) {
	if !g.record.MatchString(txt) {
		return "", false
	}
	for _, f := range strings.Split(strings.TrimPrefix(txt, "v=STSv1"), ";") {
		if f = strings.Trim(f, " \t"); g.id.MatchString(f) {
			return strings.TrimPrefix(f, "id="), true
		}
	}
	return "", false // "sts-id record is required"
}

// policyFacts is what the grammar and §3.2's prose say of a policy body.
type policyFacts struct {
	mode   string
	maxAge uint64
	mx     []string
}

// policy checks body against sts-policy-record, then the prose of §3.2: version STSv1,
// mode and max_age required once (the first occurrence decides, conformance.md §4), mx
// at least once unless mode is none, each mx value a pattern. Beyond the ABNF, as the
// parser does: labels of at most 63 characters, names of at most 253 (RFC 1035 §2.3.4),
// and a top-level label that is not all digits (RFC 3696 §2).
func (g *abnf) policyOf(body string) (policyFacts, bool) {
	var f policyFacts
	if !utf8.ValidString(body) || !g.policy.MatchString(body) {
		return f, false
	}
	first := map[string]string{}
	for _, line := range g.term.Split(body, -1) {
		m := g.field.FindStringSubmatch(line)
		if m == nil {
			continue // an empty or WSP-only line (the grammar matched the body)
		}
		k, v := m[1], m[2]
		if k == "mx" {
			if !g.mx.MatchString(v) || !dnsLimits(strings.TrimPrefix(v, "*.")) {
				return f, false
			}
			f.mx = append(f.mx, strings.ToLower(v))
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = v
		}
	}
	if first["version"] != "STSv1" {
		return f, false
	}
	f.mode = first["mode"]
	if !slices.Contains([]string{"enforce", "testing", "none"}, f.mode) {
		return f, false
	}
	age, ok := first["max_age"]
	if !ok || !g.maxAge.MatchString(age) {
		return f, false
	}
	f.maxAge, _ = strconv.ParseUint(age, 10, 64)
	f.maxAge = min(f.maxAge, 31557600)
	if len(f.mx) == 0 && f.mode != "none" {
		return f, false
	}
	return f, true
}

func dnsLimits(name string) bool {
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if len(l) > 63 {
			return false
		}
	}
	top := labels[len(labels)-1]
	return len(name) <= 253 && strings.Trim(top, "0123456789") != ""
}

// agreeRecord fails t unless ParseRecord accepts txt exactly when the grammar does, with
// the same id.
func (g *abnf) agreeRecord(t *testing.T, txt string) {
	t.Helper()
	id, ok := g.recordID(txt)
	rec, err := ParseRecord(txt)
	switch {
	case ok && err != nil:
		t.Fatalf("grammar accepts %q (id %q), ParseRecord refuses: %v", txt, id, err)
	case !ok && err == nil:
		t.Fatalf("ParseRecord accepts %q (id %q), the grammar does not", txt, rec.ID)
	case ok && rec.ID != id:
		t.Fatalf("%q: ParseRecord id %q, grammar %q", txt, rec.ID, id)
	}
}

// agreePolicy fails t unless ParsePolicy accepts body exactly when the grammar and §3.2
// do, with the same mode, max_age and mx.
func (g *abnf) agreePolicy(t *testing.T, body string) {
	t.Helper()
	f, ok := g.policyOf(body)
	p, err := ParsePolicy([]byte(body))
	switch {
	case ok && err != nil:
		t.Fatalf("grammar accepts %q, ParsePolicy refuses: %v", body, err)
	case !ok && err == nil:
		t.Fatalf("ParsePolicy accepts %q (%+v), the grammar does not", body, p)
	case ok && (string(p.Mode) != f.mode || uint64(p.MaxAge) != f.maxAge || !slices.Equal(p.MX, f.mx)):
		t.Fatalf("%q: ParsePolicy %s/%d/%q, grammar %s/%d/%q", body, p.Mode, p.MaxAge, p.MX, f.mode, f.maxAge, f.mx)
	}
}

// gen builds records and policies from the rules above, choosing alternatives and
// repetitions at random and, now and then, a near miss of a rule (the cases a parser
// gets wrong).
type gen struct{ r *rand.Rand }

func (g gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// miss picks from misses now and then (1 in 12), else from good.
func (g gen) miss(good []string, misses ...string) string {
	if g.chance(12) {
		return g.pick(misses...)
	}
	return g.pick(good...)
}
func (g gen) chance(n int) bool { return g.r.IntN(n) == 0 }

func (g gen) wsp() string {
	var b strings.Builder
	for range g.r.IntN(3) {
		b.WriteString(g.pick(" ", "\t"))
	}
	if g.chance(60) {
		b.WriteString(g.pick("\v", "\u00a0", "\r"))
	}
	return b.String()
}

func (g gen) alnum(lo, hi int) string {
	const set = "abcXYZ0189"
	n := lo + g.r.IntN(hi-lo+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.r.IntN(len(set))]
	}
	return string(b)
}

func (g gen) extName() string {
	if g.chance(15) {
		return g.pick("", "_x", "-x", "a b", "é", g.alnum(33, 33), "v", "id", "ID", "Mode", "mx ", " mx")
	}
	return g.alnum(1, 1) + g.pick("", "_", "-", ".", "") + g.alnum(0, 4)
}

func (g gen) record() string {
	var b strings.Builder
	b.WriteString(g.miss([]string{"v=STSv1"}, "v=stsv1", "v=STSv10", " v=STSv1"))
	for range 1 + g.r.IntN(3) {
		if g.chance(20) {
			b.WriteString(g.wsp())
		} else {
			b.WriteString(g.wsp() + ";" + g.wsp())
		}
		switch g.r.IntN(5) {
		case 0, 1:
			b.WriteString("id=" + g.miss([]string{g.alnum(1, 32)}, g.alnum(33, 34), "", "a-b", "a b"))
		default:
			b.WriteString(g.extName() + "=" + g.miss([]string{"1", "a:b", "x.y", "~!"}, "", "a=b", "é", "a b"))
		}
	}
	if g.chance(2) {
		b.WriteString(g.wsp() + ";" + g.wsp())
	}
	if g.chance(15) {
		b.WriteString(g.pick(";", " ", "\t", ";;"))
	}
	return b.String()
}

func (g gen) domain() string {
	labels := 1 + g.r.IntN(3)
	parts := make([]string, labels)
	for i := range parts {
		parts[i] = g.pick("mx", "Mail", "a-b", "xn--bcher-kva", "example", "com", "0a", g.alnum(1, 6))
	}
	d := strings.Join(parts, ".")
	if g.chance(12) {
		d = g.pick(d+".", "-"+d, d+"-", "mx..example", "bücher.example", "mx_1.example", "192.0.2.1", d+":25", "*", "mail.*.example", "*mail.example", d+" "+d, strings.Repeat("a", 64)+".example")
	}
	if g.chance(3) {
		d = "*." + d
	}
	return d
}

func (g gen) value(key string) string {
	switch key {
	case "version":
		return g.miss([]string{"STSv1"}, "stsv1", "STSv2", "STSv1 x")
	case "mode":
		return g.miss([]string{"enforce", "testing", "none"}, "Enforce", "report", "enforce x")
	case "max_age":
		return g.miss([]string{"86400", "0", "31557600", "31557601", "9999999999", strconv.Itoa(g.r.IntN(1e6))}, "00000000042", "-1", "+5", "86400s", "1 2")
	case "mx":
		return g.domain()
	}
	return g.miss([]string{"x", "a b", "a  b = c; d", "grüße", "v:1"}, "a\tb", "a\x01b", "a\x7fb", "", " ")
}

func (g gen) policy() string {
	type field struct{ key, value string }
	fields := []field{{"version", g.value("version")}, {"mode", g.value("mode")}, {"max_age", g.value("max_age")}}
	for range g.r.IntN(3) {
		fields = append(fields, field{"mx", g.value("mx")})
	}
	for range g.r.IntN(3) {
		k := g.pick("version", "mode", "max_age", g.extName(), g.extName())
		fields = append(fields, field{k, g.value(k)})
	}
	g.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	if g.chance(8) {
		fields = fields[:g.r.IntN(len(fields)+1)]
	}
	var b strings.Builder
	for i, f := range fields {
		if g.chance(10) {
			b.WriteString(g.wsp() + g.pick("\n", "\r\n"))
		}
		key := f.key
		if g.chance(60) {
			key = g.pick(" "+key, key+" ", key+"\t")
		}
		b.WriteString(key + g.miss([]string{":", ": ", ":\t", ":  "}, " :") + f.value + g.wsp())
		if i < len(fields)-1 || !g.chance(4) {
			b.WriteString(g.miss([]string{"\n", "\r\n"}, "\r", "\r\r\n"))
		}
	}
	if g.chance(60) {
		return "\ufeff" + b.String()
	}
	return b.String()
}

// TestRecordABNF checks ParseRecord against the grammar on generated records.
func TestRecordABNF(t *testing.T) {
	g, gn := newABNF(), gen{rand.New(rand.NewPCG(8461, 31))}
	accepted := 0
	for range 20000 {
		txt := gn.record()
		g.agreeRecord(t, txt)
		if _, ok := g.recordID(txt); ok {
			accepted++
		}
	}
	if accepted < 2000 || accepted > 18000 {
		t.Errorf("the generator is lopsided: %d of 20000 records valid", accepted)
	}
	t.Logf("%d of 20000 generated records are valid", accepted)
}

// TestPolicyABNF checks ParsePolicy against the grammar on generated policies.
func TestPolicyABNF(t *testing.T) {
	g, gn := newABNF(), gen{rand.New(rand.NewPCG(8461, 32))}
	accepted := 0
	for range 20000 {
		body := gn.policy()
		g.agreePolicy(t, body)
		if _, ok := g.policyOf(body); ok {
			accepted++
		}
	}
	if accepted < 1000 || accepted > 18000 {
		t.Errorf("the generator is lopsided: %d of 20000 policies valid", accepted)
	}
	t.Logf("%d of 20000 generated policies are valid", accepted)
}

// FuzzRecordABNF: ParseRecord never accepts what RFC 8461 §3.1's grammar rejects, nor
// refuses what it accepts, and takes the same id.
func FuzzRecordABNF(f *testing.F) {
	gn := gen{rand.New(rand.NewPCG(1, 2))}
	for range 64 {
		f.Add(gn.record())
	}
	g := newABNF()
	f.Fuzz(func(t *testing.T, txt string) { g.agreeRecord(t, txt) })
}

// FuzzPolicyABNF: ParsePolicy never accepts what RFC 8461 §3.2's grammar (and prose)
// rejects, nor refuses what it accepts, and reads the same mode, max_age and mx.
func FuzzPolicyABNF(f *testing.F) {
	gn := gen{rand.New(rand.NewPCG(3, 4))}
	for range 64 {
		f.Add(gn.policy())
	}
	g := newABNF()
	f.Fuzz(func(t *testing.T, body string) { g.agreePolicy(t, body) })
}
