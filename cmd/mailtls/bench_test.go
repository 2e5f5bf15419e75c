package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/lab"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec              string
		network, addr, mp string
		wantErr           bool
	}{
		{spec: "inet:127.0.0.1:8461:postfix", network: "tcp", addr: "127.0.0.1:8461", mp: "postfix"},
		{spec: "inet:[::1]:8461:postfix-tlsrpt", network: "tcp", addr: "[::1]:8461", mp: "postfix-tlsrpt"},
		{spec: "unix:/run/mailtls/socketmap:postfix", network: "unix", addr: "/run/mailtls/socketmap", mp: "postfix"},
		{spec: "inet:127.0.0.1:8461", wantErr: true}, // no map name: "8461" would be taken as one, the address has no port
		{spec: "inet:127.0.0.1:8461:", wantErr: true},
		{spec: "tcp:127.0.0.1:8461:postfix", wantErr: true},
		{spec: "unix::postfix", wantErr: true},
	}
	for _, tc := range tests {
		got, err := parseSpec("x", tc.spec)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: accepted as %+v", tc.spec, got)
			}
			continue
		}
		if err != nil || got.Network != tc.network || got.Addr != tc.addr || got.Map != tc.mp {
			t.Errorf("%s: %+v, %v", tc.spec, got, err)
		}
	}
}

// Each usage error exits 2 with a message that says what is wrong, on stderr alone, and
// no load is run.
func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"bench"}, "Usage:\n  mailtls bench load -target NAME=SPEC"},
		{[]string{"bench", "nosuch"}, `mailtls bench: unknown subcommand "nosuch"`},
		{[]string{"bench", "load", "-null=false", "-key", "a"}, "mailtls bench load: nothing to load: give -target or keep -null"},
		{[]string{"bench", "load", "-key", "a", "-target", "x=inet:127.0.0.1"}, `mailtls bench load: -target "inet:127.0.0.1": no map name after the address`},
		{[]string{"bench", "load", "-target", "x=inet:127.0.0.1:1:m"}, "mailtls bench load: no keys: give -keys FILE or -key K"},
		{[]string{"bench", "load", "-key", "a", "-conns", "1,0", "-target", "x=inet:127.0.0.1:1:m"}, `mailtls bench load: -conns: "0" is not a positive number`},
		{[]string{"bench", "load", "-key", "a", "-pipeline", "16,x", "-target", "x=inet:127.0.0.1:1:m"}, `mailtls bench load: -pipeline: "x" is not a positive number`},
		{[]string{"bench", "load", "-key", "a", "-rounds", "0", "-target", "x=inet:127.0.0.1:1:m"}, `mailtls bench load: -rounds: 0 is not a positive number`},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", tc.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.says) {
			t.Errorf("%q: stderr %q, want it to say %q", tc.args, errb.String(), tc.says)
		}
		if out.Len() != 0 {
			t.Errorf("%q: wrote %q to stdout", tc.args, out.String())
		}
	}
}

// mailtls bench load against a real daemon on the lab: the null server runs as its own
// process and is measured first at every point; the daemon's cached and negative answers
// are counted by kind, and nothing fails.
func TestBenchLoadAgainstDaemon(t *testing.T) {
	l := lab.New(t)
	l.STS("example.com", "1", lab.Policy("enforce", 86400, "mx.example.com"))
	l.DNS.Add("nopolicy.example. 300 IN A 192.0.2.1")
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := lab.FreeAddr(t)
	startDaemon(t, bin, writeConfig(t, dir, l.Config("", addr, dir)), addr)
	for _, k := range []string{"example.com", "nopolicy.example"} {
		lab.Query(t, addr, "postfix", k) // warm the cache
	}

	cmd := exec.Command(bin, "bench", "load", "-json", "-conns", "1,4", "-pipeline", "1,16", "-duration", "300ms", "-warmup", "100ms",
		"-target", "mailtls=inet:"+addr+":postfix", "-key", "example.com", "-key", "nopolicy.example")
	cmd.Dir = filepath.Dir(bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench load: %v\n%s", err, stderr.String())
	}
	type line struct {
		Target   string            `json:"target"`
		Conns    int               `json:"conns"`
		Pipeline int               `json:"pipeline"`
		Requests uint64            `json:"requests"`
		Errors   uint64            `json:"errors"`
		Replies  map[string]uint64 `json:"replies"`
		VsNull   float64           `json:"vs_null"`
	}
	var got []line
	for _, s := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		got = append(got, l)
	}
	wantOrder := []string{"null 1 ×1", "mailtls 1 ×1", "null 4 ×1", "mailtls 4 ×1", "null 1 ×16", "mailtls 1 ×16", "null 4 ×16", "mailtls 4 ×16"}
	if len(got) != len(wantOrder) {
		t.Fatalf("%d result lines, want %d:\n%s", len(got), len(wantOrder), out)
	}
	for i, g := range got {
		if id := fmt.Sprintf("%s %d ×%d", g.Target, g.Conns, g.Pipeline); id != wantOrder[i] {
			t.Errorf("line %d is %q, want %q", i, id, wantOrder[i])
		}
		if g.Requests == 0 || g.Errors != 0 || g.VsNull <= 0 {
			t.Errorf("%s at %d: %d replies, %d errors, ×null %v", g.Target, g.Conns, g.Requests, g.Errors, g.VsNull)
		}
		if g.Target == "null" && (g.Replies["OK"] != g.Requests || g.VsNull != 1) {
			t.Errorf("null: replies %v, ×null %v", g.Replies, g.VsNull)
		}
		if g.Target == "mailtls" && (g.Replies["OK"] == 0 || g.Replies["NOTFOUND"] == 0 || g.Replies["OK"]+g.Replies["NOTFOUND"] != g.Requests) {
			t.Errorf("mailtls: replies %v of %d, want only OK (example.com) and NOTFOUND (nopolicy.example)", g.Replies, g.Requests)
		}
	}
}
