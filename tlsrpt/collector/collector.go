package collector

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/tlsrpt"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// Config configures a collector.
type Config struct {
	// Socket is the Unix datagram socket's path ("" listens on none: only the resolver's
	// observations are collected). A stale socket file there is replaced.
	Socket string
	// Owner and Group own the socket (names or numeric ids; "" leaves the process's), and
	// Mode is its permission bits (0 means 0660), so that Postfix's smtp can write to it.
	Owner, Group string
	Mode         os.FileMode
	// FlushInterval is how often the batch is written to the store (default 1 s).
	FlushInterval time.Duration
	// MaxBatchRows bounds the distinct rows a batch may hold before the aggregator waits
	// for the store (default 100000): memory stays bounded whatever arrives.
	MaxBatchRows int
	// Queue is the number of datagrams buffered between the socket reader and the
	// aggregator (default 8192).
	Queue int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Mode == 0 {
		c.Mode = 0o660
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.MaxBatchRows <= 0 {
		c.MaxBatchRows = 100000
	}
	if c.Queue <= 0 {
		c.Queue = 8192
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Collector aggregates TLS results into a store.
type Collector struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	m       *metrics
	conn    *net.UnixConn
	bound   atomic.Bool // Listen bound the socket (Addr may be called from any goroutine)
	adopted bool        // conn was passed in (Adopt): its file is not ours to remove
	in      chan item
	pool    sync.Pool
	done    chan struct{}
	// Flush sends flushToken through the socket itself (its queue is FIFO, so everything
	// accepted before is read first) and waits for flushAck.
	flushMu    sync.Mutex
	flushToken []byte
	flushAck   chan struct{}
}

// item is one unit of work for the aggregator: a datagram (buf) or an observation.
type item struct {
	buf  *[]byte
	n    int
	at   time.Time
	obs  *Result
	sync chan struct{}
}

// New builds a collector writing into st, registering its metrics on reg (nil: none).
func New(cfg Config, st *store.Store, log *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	cfg.defaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, st: st, log: log, m: m, in: make(chan item, cfg.Queue), done: make(chan struct{}),
		flushToken: append([]byte("\x00mailtls-flush-"), token...), flushAck: make(chan struct{}, 1)}
	c.pool.New = func() any { b := make([]byte, MaxDatagram+1); return &b }
	return c, nil
}

// Listen binds the datagram socket with the configured owner, group and mode. It is a
// no-op without a socket path.
func (c *Collector) Listen() error {
	if c.cfg.Socket == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.cfg.Socket), 0o755); err != nil {
		return fmt.Errorf("tlsrpt collector: %w", err)
	}
	if fi, err := os.Lstat(c.cfg.Socket); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("tlsrpt collector: %s exists and is not a socket", c.cfg.Socket)
		}
		if err := os.Remove(c.cfg.Socket); err != nil {
			return fmt.Errorf("tlsrpt collector: remove stale socket: %w", err)
		}
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: c.cfg.Socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("tlsrpt collector: %w", err)
	}
	uid, gid, err := ids(c.cfg.Owner, c.cfg.Group)
	if err == nil && (uid >= 0 || gid >= 0) {
		err = os.Lchown(c.cfg.Socket, uid, gid)
	}
	if err == nil {
		err = os.Chmod(c.cfg.Socket, c.cfg.Mode)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("tlsrpt collector: socket %s: %w", c.cfg.Socket, err)
	}
	// A large receive buffer absorbs bursts while the reader is descheduled.
	_ = conn.SetReadBuffer(4 << 20)
	c.conn = conn
	c.bound.Store(true)
	return nil
}

// Adopt makes conn, a datagram socket someone else bound (systemd's socket activation),
// the collector's socket instead of Listen. Its owner, group and mode are the binder's;
// Run closes it but leaves its file, which belongs to the binder.
func (c *Collector) Adopt(conn *net.UnixConn) {
	_ = conn.SetReadBuffer(4 << 20)
	c.conn = conn
	c.adopted = true
	if a, ok := conn.LocalAddr().(*net.UnixAddr); ok {
		c.cfg.Socket = a.Name
	}
	c.bound.Store(true)
}

// ids resolves owner and group names or numbers (-1 for "").
func ids(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = strconv.Atoi(owner); err != nil {
			u, lerr := user.Lookup(owner)
			if lerr != nil {
				return 0, 0, lerr
			}
			uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if group != "" {
		if gid, err = strconv.Atoi(group); err != nil {
			g, lerr := user.LookupGroup(group)
			if lerr != nil {
				return 0, 0, lerr
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, nil
}

// Addr is the socket's path ("" when not listening).
func (c *Collector) Addr() string {
	if !c.bound.Load() {
		return ""
	}
	return c.cfg.Socket
}

// Run reads the socket and aggregates until ctx ends, then flushes what it holds and
// removes the socket file.
func (c *Collector) Run(ctx context.Context) error {
	defer close(c.done)
	var wg sync.WaitGroup
	readerDone := make(chan struct{})
	if c.conn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(readerDone)
			c.read()
		}()
		go func() {
			<-ctx.Done()
			c.conn.Close()
		}()
	} else {
		close(readerDone)
	}
	err := c.aggregate(ctx, readerDone)
	wg.Wait()
	if c.conn != nil && !c.adopted {
		os.Remove(c.cfg.Socket)
	}
	return err
}

// read is the tight loop: read a datagram, hand it over, read the next.
func (c *Collector) read() {
	for {
		bp := c.pool.Get().(*[]byte)
		n, _, err := c.conn.ReadFromUnix(*bp)
		if err != nil {
			c.pool.Put(bp)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("tlsrpt collector: socket read failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if bytes.Equal((*bp)[:n], c.flushToken) {
			c.pool.Put(bp)
			c.in <- item{sync: c.flushAck}
			continue
		}
		c.m.received.Inc()
		c.in <- item{buf: bp, n: n, at: c.cfg.Now()}
	}
}

// Observe records a result the resolver itself observed (e.g. an MTA-STS policy fetch
// failure, RFC 8460 §4.3.2.2). It never blocks: when the queue is full the observation is
// dropped and counted.
func (c *Collector) Observe(r *Result) {
	select {
	case c.in <- item{obs: r, at: c.cfg.Now()}:
		c.m.observations.Inc()
	default:
		c.m.rejected.WithLabelValues("queue_full").Inc()
	}
}

// Flush writes everything received so far (by the socket and by Observe) to the store
// and returns when it is there (tests, the CLI's view); it returns early when ctx ends.
func (c *Collector) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	select { // an answer to an earlier Flush that gave up
	case <-c.flushAck:
	default:
	}
	if c.conn != nil {
		conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: c.cfg.Socket, Net: "unixgram"})
		if err != nil {
			return fmt.Errorf("tlsrpt collector: flush: %w", err)
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetWriteDeadline(dl)
		}
		_, err = conn.Write(c.flushToken)
		conn.Close()
		if err != nil {
			return fmt.Errorf("tlsrpt collector: flush: %w", err)
		}
	} else {
		select {
		case c.in <- item{sync: c.flushAck}:
		case <-c.done:
			return errors.New("tlsrpt collector: not running")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-c.flushAck:
		return nil
	case <-c.done:
		return errors.New("tlsrpt collector: not running")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// aggregate parses and counts items, handing full batches to the writer.
func (c *Collector) aggregate(ctx context.Context, readerDone <-chan struct{}) error {
	agg := &aggregator{batch: store.NewBatch()}
	w := newWriter(c)
	defer w.stop()
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	limiter := logLimiter{every: 10 * time.Second}
	handle := func(it item) {
		if it.sync != nil {
			w.write(agg.batch)
			agg.batch = store.NewBatch()
			w.wait()
			select {
			case it.sync <- struct{}{}:
			default:
			}
			return
		}
		r := it.obs
		if it.buf != nil {
			var err error
			r, err = ParseDatagram((*it.buf)[:it.n])
			if err != nil {
				reason, _ := IsBad(err)
				c.m.rejected.WithLabelValues(reason).Inc()
				if n, ok := limiter.allow(time.Now()); ok {
					c.log.Warn("tlsrpt collector: bad datagram", "err", err, "suppressed_since_last", n)
				}
			}
			c.pool.Put(it.buf)
		}
		if r != nil {
			agg.add(dayOf(it.at), r)
			c.m.accepted.Inc()
		}
		if agg.batch.Len() >= c.cfg.MaxBatchRows {
			w.wait() // back-pressure: the previous batch must be in the store first
			w.write(agg.batch)
			agg.batch = store.NewBatch()
		}
	}
	for {
		select {
		case it := <-c.in:
			handle(it)
		case <-tick.C:
			if agg.batch.Len() > 0 && w.idle() {
				w.write(agg.batch)
				agg.batch = store.NewBatch()
			}
		case <-ctx.Done():
			// The reader stops once the socket is closed; what it read is still counted.
			for running := true; running; {
				select {
				case it := <-c.in:
					handle(it)
				case <-readerDone:
					running = false
				}
			}
			for drained := false; !drained; {
				select {
				case it := <-c.in:
					handle(it)
				default:
					drained = true
				}
			}
			w.wait()
			w.write(agg.batch)
			w.wait()
			return nil
		}
	}
}

// logLimiter lets one log line through per interval and counts the others.
type logLimiter struct {
	every      time.Duration
	last       time.Time
	suppressed int
}

func (l *logLimiter) allow(now time.Time) (suppressed int, ok bool) {
	if now.Sub(l.last) < l.every {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}

// SessionsFor is a helper for observations: a failed session under an sts policy for
// domain with one failure detail of type rt.
func SessionsFor(domain, record string, rt tlsrpt.ResultType, info string) *Result {
	return &Result{Domain: domain, Record: record, Policies: []PolicyResult{{
		Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain}, Failed: true,
		Details: []tlsrpt.FailureDetail{{ResultType: rt, FailedSessionCount: 1, AdditionalInformation: info}},
	}}}
}
