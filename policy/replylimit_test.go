package policy

import (
	"fmt"
	"strings"
	"testing"
)

// Issue 11: a reply with TLSRPT attributes over the socketmap limit becomes the plain
// reply (the same policy without the report data); one within the limit, and any other
// reply, is left alone.
func TestPostfixReplyWithin(t *testing.T) {
	h := newHarness(t, nil)
	var mx []string
	for i := range 2500 {
		mx = append(mx, fmt.Sprintf("mx%04d.big.example", i))
	}
	h.sts("big.example", "1", policyText("enforce", 86400, mx...))
	h.sts("small.example", "1", policyText("enforce", 86400, "mx.small.example"))
	const limit = 100000

	plain := h.resolve(plain, "big.example").PostfixReply()
	big := h.resolve(tlsrpt, "big.example")
	if full := big.PostfixReply(); len(full) <= limit {
		t.Fatalf("TLSRPT reply is %d bytes, not over the limit", len(full))
	}
	for range 2 { // computed, then from the hot store
		got, trimmed := h.resolve(tlsrpt, "big.example").PostfixReplyWithin(limit)
		if !trimmed || got != plain {
			t.Fatalf("over the limit: trimmed %v, %.80q (%d bytes), want the plain reply (%d bytes)", trimmed, got, len(got), len(plain))
		}
	}
	small := h.resolve(tlsrpt, "small.example")
	if got, trimmed := small.PostfixReplyWithin(limit); trimmed || got != small.PostfixReply() || !strings.Contains(got, "policy_type=sts") {
		t.Errorf("within the limit: trimmed %v, %q", trimmed, got)
	}
	if got, trimmed := big.PostfixReplyWithin(len(plain) - 1); !trimmed || got != plain {
		t.Errorf("plain reply itself over the limit: trimmed %v (the socketmap server refuses it)", trimmed)
	}
	temp := &Decision{Result: Temp, Message: strings.Repeat("x", limit+10), TLSRPT: true}
	if _, trimmed := temp.PostfixReplyWithin(limit); trimmed {
		t.Error("a TEMP reply was trimmed")
	}
}
