package policy

import (
	"fmt"
	"strings"
	"testing"
)

// Issue 11: a reply with TLSRPT attributes over the socketmap limit becomes the plain
// reply (the same policy without the report data); one within the limit, and any other
// reply, is left alone. (The engine's per-domain bounds keep held policies well under the
// limit, bounds.go; this is the last line of defence, tested on a decision built by hand.)
func TestPostfixReplyWithin(t *testing.T) {
	const limit = 100000
	var mx, lines []string
	for i := range 2500 {
		mx = append(mx, fmt.Sprintf("mx%04d.big.example", i))
		lines = append(lines, "mx: "+mx[i])
	}
	big := &Decision{Result: OK, Level: "secure", Match: mx, Servername: "hostname", TLSRPT: true,
		STS: STSPolicy{Domain: "big.example", ID: "1", Mode: "enforce", MaxAge: 86400, MX: mx, Lines: lines}}
	full := big.PostfixReply()
	if len(full) <= limit {
		t.Fatalf("TLSRPT reply is %d bytes, not over the limit", len(full))
	}
	plainDec := *big
	plainDec.TLSRPT = false
	plain := plainDec.PostfixReply()
	if got, trimmed := big.PostfixReplyWithin(limit); !trimmed || got != plain || !strings.HasPrefix(got, "OK secure match=mx0000.big.example:") {
		t.Fatalf("over the limit: trimmed %v, %.80q (%d bytes), want the plain reply (%d bytes)", trimmed, got, len(got), len(plain))
	}
	if got, trimmed := big.PostfixReplyWithin(len(full)); trimmed || got != full {
		t.Errorf("at the limit: trimmed %v", trimmed)
	}
	if got, trimmed := big.PostfixReplyWithin(len(plain) - 1); !trimmed || got != plain {
		t.Errorf("plain reply itself over the limit: trimmed %v, want the plain reply (the socketmap server refuses it)", trimmed)
	}

	h := newHarness(t, nil)
	h.sts("small.example", "1", policyText("enforce", 86400, "mx.small.example"))
	small := h.resolve(tlsrpt, "small.example")
	if got, trimmed := small.PostfixReplyWithin(limit); trimmed || got != small.PostfixReply() || !strings.Contains(got, "policy_type=sts") {
		t.Errorf("within the limit: trimmed %v, %q", trimmed, got)
	}
	temp := &Decision{Result: Temp, Message: strings.Repeat("x", limit+10), TLSRPT: true}
	if _, trimmed := temp.PostfixReplyWithin(limit); trimmed {
		t.Error("a TEMP reply was trimmed")
	}
}
