package sqlitestore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache"
)

// policySize is about the size of a serialised MTA-STS policy entry.
const policySize = 300

// BenchmarkStorePut measures Put alone: the cost a policy update adds to the
// request path (no I/O; the flush happens elsewhere).
func BenchmarkStorePut(b *testing.B) {
	s := openT(b, tempDB(b), Options{FlushInterval: time.Hour, MaxPending: 1 << 20})
	policyValue := bytes.Repeat([]byte("x"), policySize)
	keys := make([]string, 50000)
	for i := range keys {
		keys[i] = fmt.Sprintf("d%d.example.com", i)
	}
	exp := time.Now().Add(24 * time.Hour)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Put(cache.Entry{Kind: "sts", Key: keys[i%len(keys)], Value: policyValue, Expires: exp, Updated: exp})
	}
}

// BenchmarkStoreFlush10k measures one flush transaction of 10,000 new or
// changed entries.
func BenchmarkStoreFlush10k(b *testing.B) {
	s := openT(b, tempDB(b), Options{FlushInterval: time.Hour, MaxPending: 1 << 20})
	exp := time.Now().Add(24 * time.Hour)
	ctx := context.Background()
	policyValue := bytes.Repeat([]byte("x"), policySize)
	for round := 0; b.Loop(); round++ {
		b.StopTimer()
		for i := 0; i < 10000; i++ {
			s.Put(cache.Entry{Kind: "sts", Key: fmt.Sprintf("d%d.example.com", i), Value: policyValue, Expires: exp.Add(time.Duration(round) * time.Second), Updated: exp})
		}
		b.StartTimer()
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func fill(b *testing.B, path string, n int) {
	s, err := Open(path, Options{FlushInterval: time.Hour, MaxPending: n})
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(24 * time.Hour)
	policyValue := bytes.Repeat([]byte("x"), policySize)
	for i := 0; i < n; i++ {
		s.Put(cache.Entry{Kind: "sts", Key: fmt.Sprintf("d%d.example.com", i), Value: policyValue, Expires: exp, Updated: exp})
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStoreRange100k measures reading back 100,000 stored entries, what
// a restarted daemon does to warm its memory store.
func BenchmarkStoreRange100k(b *testing.B) {
	path := tempDB(b)
	fill(b, path, 100000)
	s := openT(b, path, manual())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := s.Range(ctx, "", func(cache.Entry) bool { n++; return true }); err != nil {
			b.Fatal(err)
		}
		if n != 100000 {
			b.Fatalf("Range saw %d entries", n)
		}
	}
}

// BenchmarkOpen100k measures Open of a 100,000-entry cache (integrity check
// included).
func BenchmarkOpen100k(b *testing.B) {
	path := tempDB(b)
	fill(b, path, 100000)
	for b.Loop() {
		s, err := Open(path, manual())
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkStoreGetStored measures a Get that misses the pending set and
// reads the database.
func BenchmarkStoreGetStored(b *testing.B) {
	path := tempDB(b)
	fill(b, path, 10000)
	s := openT(b, path, manual())
	ctx := context.Background()
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("d%d.example.com", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := s.Get(ctx, "sts", keys[i%len(keys)]); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
