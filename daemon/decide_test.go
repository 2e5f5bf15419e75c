package daemon

import (
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"
)

// With the debug log on, each lookup's line carries the decision's latency (the clock is
// read for it although the audit log is off).
func TestDecideDebugLineHasLatency(t *testing.T) {
	cfg := overrideOnlyConfig(t, t.TempDir(), "")
	logs := &syncBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	d.Lookup(context.Background(), "postfix", "over.example")
	m := regexp.MustCompile(`msg=lookup profile=postfix key=over.example .* elapsed=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no debug line for the lookup with its latency:\n%s", logs)
	}
	if _, err := time.ParseDuration(m[1]); err != nil {
		t.Errorf("elapsed=%s: %v", m[1], err)
	}
}
