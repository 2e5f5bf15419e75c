package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/cache/sqlitestore"
	"github.com/mailtls/mailtls/internal/dnstest"
)

// waitFor polls cond until it holds; past timeout (generous: it only bounds a hang) the
// test fails naming what it waited for. No test decides anything on a fixed sleep.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedSTS counts the MTA-STS entries in the store file of state directory dir, read
// from disk beside the running daemon (SQLite lets a second process read).
func storedSTS(t *testing.T, dir string) int {
	t.Helper()
	s, err := sqlitestore.Open(filepath.Join(dir, "cache.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatalf("open the daemon's store: %v", err)
	}
	defer s.Close()
	n := 0
	if err := s.Range(context.Background(), "sts", func(cache.Entry) bool { n++; return true }); err != nil {
		t.Fatalf("read the daemon's store: %v", err)
	}
	return n
}

// queryLog is a DNS server that answers nothing (an empty zone) and records every name
// asked, so a test can prove that no lookup of a domain went to the network.
type queryLog struct {
	*dnstest.Server
	mu    sync.Mutex
	names []string
}

func newQueryLog(t *testing.T) *queryLog {
	q := &queryLog{Server: dnstest.New(t)}
	q.SetHandler(func(_ dns.ResponseWriter, r *dns.Msg) bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		for _, qq := range r.Question {
			q.names = append(q.names, strings.ToLower(qq.Name))
		}
		return false // the normal (empty) answer
	})
	return q
}

// under returns the names asked that are domain or below it.
func (q *queryLog) under(domain string) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, n := range q.names {
		if n == domain+"." || strings.HasSuffix(n, "."+domain+".") {
			out = append(out, n)
		}
	}
	return out
}

// total is the number of names asked.
func (q *queryLog) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.names)
}
