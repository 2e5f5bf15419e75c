// Command policyhost is the end-to-end suite's MTA-STS policy host: an HTTPS server that
// answers https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3) for every
// domain whose policy is a file named after the policy host in -dir, e.g.
// DIR/mta-sts.example.test. One certificate (-cert, -key) covers all the names.
//
//	policyhost -listen 127.0.0.3:443 -dir POLICIES -cert C -key K
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:443", "HTTPS address")
	dir := flag.String("dir", "", "directory of policies, one file per policy host name")
	certFile := flag.String("cert", "", "certificate (PEM) for the policy host names")
	keyFile := flag.String("key", "", "key (PEM) for -cert")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *dir, *certFile, *keyFile, log); err != nil {
		fmt.Fprintln(os.Stderr, "policyhost:", err)
		os.Exit(1)
	}
}

func run(listen, dir, certFile, keyFile string, log *slog.Logger) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(dir, log),
		ReadHeaderTimeout: 5 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("serving", "addr", listen, "dir", dir)
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler serves DIR/<host> as the policy of the host named in the request.
func handler(dir string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		log.Info("request", "host", host, "path", r.URL.Path)
		if r.URL.Path != "/.well-known/mta-sts.txt" || !safeName(host) {
			http.NotFound(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join(dir, host))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
}

// safeName accepts host names only, so a Host header cannot name a path outside dir.
func safeName(host string) bool {
	if host == "" || strings.HasPrefix(host, ".") || strings.Contains(host, "..") {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
