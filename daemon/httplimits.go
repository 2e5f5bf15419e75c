package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/netutil"
)

// The metrics and health listener must not take what the socketmap needs: each of its
// connections costs a file descriptor, and a flood of idle keep-alive connections once
// took every descriptor the process had, so that the socketmap listener could accept
// nothing (accept4: too many open files). It therefore holds at most httpLimits.MaxConns
// connections (more wait in the kernel's listen queue, costing the process nothing), and
// closes those that are slow to send a request or sit idle.

// httpLimits bound an HTTP listener's connections.
type httpLimits struct {
	MaxConns          int           // connections held at once; more wait in the listen queue
	ReadHeaderTimeout time.Duration // from accept (or the last response) to the end of the headers
	ReadTimeout       time.Duration // the whole request
	WriteTimeout      time.Duration // the whole response
	IdleTimeout       time.Duration // a keep-alive connection between requests
}

// metricsLimits are the metrics listener's: a few scrapers and probes need a handful of
// connections; a scrape of /metrics is written well within 30 s.
func metricsLimits() httpLimits {
	return httpLimits{MaxConns: 64, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 15 * time.Second}
}

// listenHTTP listens on addr for an HTTP server bounded by lim, which serve it with
// (*http.Server).Serve.
func listenHTTP(addr string, h http.Handler, lim httpLimits, log *slog.Logger) (net.Listener, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout,
		WriteTimeout: lim.WriteTimeout, IdleTimeout: lim.IdleTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return netutil.LimitListener(ln, lim.MaxConns), srv, nil
}

// fdReserve is what the daemon needs besides its listeners' connections: the store, DNS
// and policy-fetch sockets, the audit log, the runtime.
const fdReserve = 256

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (the Go runtime does so
// too on Linux; this makes it explicit and portable) and returns the limit now in force.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return rl.Cur, nil
}

// openFiles counts the process's open file descriptors (Linux /proc), or -1.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read
}

// checkFileLimit raises the descriptor limit and says what it allows: the socketmap's
// connections (max_connections, shared by its listeners, plus one accepted connection per
// listener waiting for a place), the metrics listener's, a reserve for the rest, and what
// is left. Too few descriptors for all of them is a warning: the socketmap could then
// fail to accept under load.
func (d *Daemon) checkFileLimit(socketmapListeners int) {
	limit, err := raiseFileLimit()
	if err != nil {
		d.log.Warn("cannot raise the open-file limit", "err", err)
		return
	}
	maxConns := d.cfg.Listen.MaxConnections
	socketmapFDs := maxConns + socketmapListeners
	metricsFDs := 0
	if d.cfg.Metrics.Listen != "" {
		metricsFDs = metricsLimits().MaxConns
	}
	left := int64(limit) - int64(socketmapFDs+metricsFDs+fdReserve+max(openFiles(), 0))
	attrs := []any{"limit", limit, "open", openFiles(), "socketmap", socketmapFDs, "metrics", metricsFDs, "reserve", fdReserve, "left", left}
	switch {
	case maxConns == 0:
		d.log.Warn("file descriptors: listen.max_connections is 0 (no cap), so socketmap clients can use up the open-file limit", attrs...)
	case left < 0:
		d.log.Warn("file descriptors: the open-file limit is below what the listeners may hold; raise LimitNOFILE or lower listen.max_connections", attrs...)
	default:
		d.log.Info("file descriptors", attrs...)
	}
}
