package daemon

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
)

// runningDaemon is a daemon built from a configuration text, running until its test ends.
type runningDaemon struct {
	*Daemon
	cfg *config.Config
	// ctx is the context Run was given: cancelled by stop.
	ctx  context.Context
	done chan error
	stop func()
}

// startDaemon parses yaml (named name in errors), builds the daemon, runs it and waits
// until its listeners are up. stop ends Run and fails the test on Run's error; it may be
// called more than once, and runs at the end of the test if the test did not call it.
func startDaemon(tb testing.TB, name, yaml string) *runningDaemon {
	tb.Helper()
	cfg, err := config.Parse([]byte(yaml), name)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningDaemon{Daemon: d, cfg: cfg, ctx: ctx, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-r.done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	}
	tb.Cleanup(r.stop)
	deadline := time.Now().Add(10 * time.Second)
	for !d.ready.Load() {
		select {
		case err := <-r.done:
			stopped = true
			tb.Fatalf("Run ended before the listeners were up: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal("the daemon's listeners were not up within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}
