package daemon

import (
	"fmt"
	"time"

	"github.com/mailtls/mailtls/config"
)

// gcPaceInterval is how often the daemon re-reads the live heap to pace the collector
// (the end of the cache load adjusts at once too). Reading one runtime metric is cheap;
// a short interval also paces the load itself, whose decoding garbage would otherwise
// double the heap while the live part grows (peak RSS 496–513 MB for a million domains
// with a 10 s interval or Go's pacing, 327 MB with 1 s: BENCHMARKS.md, "Scale").
const gcPaceInterval = time.Second

// gcHeadroom returns the headroom the daemon paces the Go collector with
// (cache.gc_headroom), or 0 and the reason when it leaves the pacing to Go: the
// setting is 0, or the operator set GOGC or GOMEMLIMIT, which then rule alone.
func gcHeadroom(cfg *config.Config, lookupEnv func(string) (string, bool)) (int64, string) {
	if cfg.Cache.GCHeadroom <= 0 {
		return 0, "cache.gc_headroom is 0"
	}
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if val, ok := lookupEnv(v); ok {
			return 0, fmt.Sprintf("%s=%s is set in the environment", v, val)
		}
	}
	return cfg.Cache.GCHeadroom, ""
}
