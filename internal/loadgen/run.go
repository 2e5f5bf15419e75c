package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/socketmap"
)

// Config is one load run against one socketmap server.
type Config struct {
	Network, Addr string // "tcp" and "127.0.0.1:1234", or "unix" and a socket path
	Map           string // socketmap name sent before each key (the mailtls profile)
	Keys          []string
	Conns         int           // concurrent connections (default 1)
	Pipeline      int           // requests in flight per connection; 1 (default) = strict request→reply, as Postfix
	Duration      time.Duration // measured period (default 5s)
	Warmup        time.Duration // unmeasured period before it
	Timeout       time.Duration // per-reply bound; a later reply counts as an error (default 10s)
}

// Result is what one run measured. Only requests sent and answered inside the measured
// period count.
type Result struct {
	Config        Config
	Requests      uint64        // replies received in the measured period
	Errors        uint64        // connection failures, timeouts and broken replies, whole run
	Elapsed       time.Duration // length of the measured period
	Rate          float64       // Requests per second of Elapsed
	P50, P99, Max time.Duration
	Replies       map[string]uint64 // by first word of the reply: OK, NOTFOUND, TEMP, PERM, other
	LastError     error             // the last of Errors, nil when there were none
}

func (r *Result) String() string {
	return fmt.Sprintf("%d conns ×%d: %.0f/s p50 %v p99 %v max %v (%d replies, %d errors)",
		r.Config.Conns, r.Config.Pipeline, r.Rate, r.P50, r.P99, r.Max, r.Requests, r.Errors)
}

// Reply kinds: the reply types of socketmap_table(5), then everything else.
const (
	kindOK = iota
	kindNotFound
	kindTemp
	kindPerm
	kindOther
	numKinds
)

// ReplyKinds names the reply kinds, the keys of Result.Replies, in their order: OK,
// NOTFOUND, TEMP, PERM, then "other".
func ReplyKinds() []string {
	return []string{kindOK: "OK", kindNotFound: "NOTFOUND", kindTemp: "TEMP", kindPerm: "PERM", kindOther: "other"}
}

// kindOf classifies a reply by its first word.
func kindOf(reply []byte) int {
	word, _, _ := bytes.Cut(reply, []byte{' '})
	switch string(word) {
	case "OK":
		return kindOK
	case "NOTFOUND":
		return kindNotFound
	case "TEMP":
		return kindTemp
	case "PERM":
		return kindPerm
	}
	return kindOther
}

// worker is one connection's tally.
type worker struct {
	hist    histogram
	kinds   [numKinds]uint64
	errors  uint64
	lastErr error
}

// Run drives cfg.Addr for Warmup+Duration and returns the measured figures. It fails when
// not a single reply arrived in the measured period.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("loadgen: no keys")
	}
	cfg.Conns = max(cfg.Conns, 1)
	cfg.Pipeline = max(cfg.Pipeline, 1)
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	reqs := make([][]byte, len(cfg.Keys))
	for i, k := range cfg.Keys {
		reqs[i] = socketmap.AppendNetstring(nil, []byte(cfg.Map+" "+k))
	}

	start := time.Now()
	w := &window{from: start.Add(cfg.Warmup), to: start.Add(cfg.Warmup + cfg.Duration)}
	ctx, cancel := context.WithDeadline(ctx, w.to)
	defer cancel()
	workers := make([]worker, cfg.Conns)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := i * len(reqs) / cfg.Conns
			workers[i].loop(ctx, cfg, w, reqs, offset)
		}()
	}
	wg.Wait()

	res := &Result{Config: cfg, Elapsed: cfg.Duration, Replies: map[string]uint64{}}
	names := ReplyKinds()
	var all histogram
	var lastErr error
	for i := range workers {
		all.merge(&workers[i].hist)
		res.Errors += workers[i].errors
		if workers[i].lastErr != nil {
			lastErr = workers[i].lastErr
		}
		for k, n := range workers[i].kinds {
			if n > 0 {
				res.Replies[names[k]] += n
			}
		}
	}
	res.LastError = lastErr
	res.Requests = all.n
	res.Rate = float64(all.n) / cfg.Duration.Seconds()
	res.P50, res.P99, res.Max = all.quantile(0.50), all.quantile(0.99), all.max
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return res, err
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("loadgen: no reply from %s %s in the measured period (last error: %v)", cfg.Network, cfg.Addr, lastErr)
	}
	return res, nil
}

// window is the measured period: a request counts when it was sent at or after from and
// answered before to.
type window struct{ from, to time.Time }

func (w *window) counts(sent, got time.Time) bool {
	return !sent.Before(w.from) && got.Before(w.to)
}

// deadline bounds an I/O wait that starts at t: the reply timeout, but never past the end
// of the run.
func (w *window) deadline(t time.Time, timeout time.Duration) time.Time {
	if d := t.Add(timeout); d.Before(w.to) {
		return d
	}
	return w.to
}

// loop keeps one connection busy until ctx ends, redialling after a failure.
func (wk *worker) loop(ctx context.Context, cfg Config, w *window, reqs [][]byte, next int) {
	var d net.Dialer
	running := func() bool { return ctx.Err() == nil && time.Now().Before(w.to) }
	for running() {
		c, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
		if err != nil {
			if running() {
				wk.fail(err)
				sleep(ctx, 10*time.Millisecond)
			}
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		if cfg.Pipeline == 1 {
			next, err = wk.strict(c, cfg, w, reqs, next)
		} else {
			next, err = wk.pipelined(c, cfg, w, reqs, next)
		}
		stop()
		c.Close()
		// An I/O error at the end of the run is the run ending, not a failure.
		if err != nil && running() {
			wk.fail(err)
		}
	}
}

func (wk *worker) fail(err error) {
	wk.errors++
	wk.lastErr = err
}

// strict sends one request, waits for its reply, and repeats (Postfix's way).
func (wk *worker) strict(c net.Conn, cfg Config, w *window, reqs [][]byte, next int) (int, error) {
	r := socketmap.NewReader(c, socketmap.DefaultMaxReply)
	for {
		sent := time.Now()
		if !sent.Before(w.to) {
			return next, nil
		}
		c.SetDeadline(w.deadline(sent, cfg.Timeout))
		if _, err := c.Write(reqs[next]); err != nil {
			return next, err
		}
		next = (next + 1) % len(reqs)
		reply, err := r.Next()
		if err != nil {
			return next, err
		}
		if got := time.Now(); w.counts(sent, got) {
			wk.hist.record(got.Sub(sent))
			wk.kinds[kindOf(reply)]++
		}
	}
}

// pipelined keeps up to cfg.Pipeline requests in flight: a writer sends while the window
// has room, the reader matches replies to send times in order.
func (wk *worker) pipelined(c net.Conn, cfg Config, w *window, reqs [][]byte, next int) (int, error) {
	inflight := make(chan time.Time, cfg.Pipeline)
	var werr atomic.Value
	var sentCount atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(inflight)
		bw := bufio.NewWriterSize(c, 4096)
		i := next
		for {
			select {
			case inflight <- time.Now():
			default:
				// The window is full: send what is queued, then wait for room.
				if err := bw.Flush(); err != nil {
					werr.Store(err)
					return
				}
				select {
				case inflight <- time.Now():
				case <-done:
					return
				}
			}
			if _, err := bw.Write(reqs[i]); err != nil {
				werr.Store(err)
				return
			}
			sentCount.Add(1)
			i = (i + 1) % len(reqs)
		}
	}()
	defer close(done)
	r := socketmap.NewReader(c, socketmap.DefaultMaxReply)
	for sent := range inflight {
		c.SetReadDeadline(w.deadline(time.Now(), cfg.Timeout))
		reply, err := r.Next()
		if err != nil {
			if e, ok := werr.Load().(error); ok {
				err = e
			}
			return (next + int(sentCount.Load())) % len(reqs), err
		}
		if got := time.Now(); w.counts(sent, got) {
			wk.hist.record(got.Sub(sent))
			wk.kinds[kindOf(reply)]++
		}
	}
	if e, ok := werr.Load().(error); ok {
		return (next + int(sentCount.Load())) % len(reqs), e
	}
	return next, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
