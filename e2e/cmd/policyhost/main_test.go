package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The policy host serves RFC 8461 §3.3's well-known path per Host, as text/plain, and
// nothing else; a Host header cannot reach files outside the policy directory.
func TestHandler(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mta-sts.a.test"), []byte("version: STSv1\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := handler(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		name, host, path string
		status           int
	}{
		{"policy of the named host (RFC 8461 §3.3)", "mta-sts.a.test", "/.well-known/mta-sts.txt", 200},
		{"host with port and upper case", "MTA-STS.A.test:443", "/.well-known/mta-sts.txt", 200},
		{"unknown host", "mta-sts.b.test", "/.well-known/mta-sts.txt", 404},
		{"other path", "mta-sts.a.test", "/", 404},
		{"path traversal in Host", "..", "/.well-known/mta-sts.txt", 404},
		{"slash in Host", "a/b", "/.well-known/mta-sts.txt", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == 200 && w.Header().Get("Content-Type") != "text/plain" {
				t.Errorf("Content-Type %q, want text/plain", w.Header().Get("Content-Type"))
			}
		})
	}
}
