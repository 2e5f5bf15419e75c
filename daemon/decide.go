package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mailtls/mailtls/policy"
	"github.com/mailtls/mailtls/socketmap"
)

// Decide is the one path every front end's request takes — the socketmap (Lookup), the
// HTTP JSON API and the Exim readsocket line protocol: profile selects the profile
// (conformance.md §1), key is the next-hop. It resolves into dec, counts the answer in
// mailtls_queries_total and the cache series, writes the audit line and returns the
// socketmap reply the decision gives (the audit line's answer). An unknown profile is
// counted as an input PERM and returned as an error wrapping policy.ErrUnknownProfile.
func (d *Daemon) Decide(ctx context.Context, profile, key string, dec *policy.Decision) (string, error) {
	p, ok := (*d.profiles.Load())[profile]
	if !ok {
		d.metrics.queryCount.inc("", policy.Perm, policy.SourceInput)
		return "", fmt.Errorf("%q: %w", profile, policy.ErrUnknownProfile)
	}
	// The latency is read from the clock only for the audit line and the debug log, its
	// only users: under pipelined load the two reads cost half as much CPU as the engine.
	audit, debug := d.audit.Load(), d.log.Enabled(ctx, slog.LevelDebug)
	timed := audit != nil || debug
	var start time.Time
	if timed {
		start = time.Now()
	}
	// The engine bounds any network work by the profile's answer deadline itself (no
	// timer for an answer from memory); a cached answer allocates nothing (reasons are
	// rendered only if the audit log asks).
	d.parts.Engine.ResolveInto(ctx, p, key, dec)
	reply, trimmed := dec.PostfixReplyWithin(socketmap.DefaultMaxReply)
	if trimmed {
		d.log.Warn("reply with TLSRPT attributes exceeds Postfix's socketmap limit; answering the plain form without them",
			"profile", profile, "domain", dec.Domain, "max", socketmap.DefaultMaxReply)
	}
	var end time.Time // one reading: the audit line's time and the end of the latency
	var elapsed time.Duration
	if timed {
		end = time.Now()
		elapsed = end.Sub(start)
	}
	d.metrics.observeDecision(dec)
	if err := audit.record(dec, reply, end, elapsed); err != nil {
		d.metrics.auditErrors.Inc()
		d.log.Warn("audit log write failed", "err", err)
	}
	if debug { // the attributes would be boxed even when dropped
		d.log.Debug("lookup", "profile", profile, "key", key, "reply", reply, "source", dec.Source, "cache_hit", dec.CacheHit, "elapsed", elapsed)
	}
	return reply, nil
}
