package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/tlsrpt/store"
)

// TestTLSRPTCommands: pending lists what will be sent, sent what was sent (or given up)
// and where, show prints a report's JSON; an unknown id is an error.
func TestTLSRPTCommands(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mailtls.yaml")
	os.WriteFile(cfgPath, []byte("state_dir: "+dir+"\ntlsrpt:\n  enabled: true\n  organization: O\n  contact: mailto:c@s.example\n  submitter: s.example\n"), 0o644)
	st, err := store.Open(filepath.Join(dir, "tlsrpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 10, 0, 0, time.UTC)
	body := `{"organization-name":"O","report-id":"r1@s.example"}`
	err = st.SaveDay(ctx, "2026-11-30", []store.NewReport{{ID: "r1@s.example", Day: "2026-11-30", Domain: "a.example", Record: "v=TLSRPTv1; rua=mailto:x@a.example",
		Body: []byte(body), Destinations: []string{"mailto:x@a.example", "https://r.a.example/"}, FirstAttempt: now}}, now, now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(ctx, "r1@s.example", "https://r.a.example/", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MarkFailed(ctx, "r1@s.example", "mailto:x@a.example", errors.New("relay down"), now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	st.Close()

	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append(args, "-config", cfgPath), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	pending := runOK("tlsrpt", "pending")
	if !strings.Contains(pending, "mailto:x@a.example") || !strings.Contains(pending, "relay down") || strings.Contains(pending, "https://r.a.example/") {
		t.Errorf("pending:\n%s", pending)
	}
	sent := runOK("tlsrpt", "sent")
	if !strings.Contains(sent, "https://r.a.example/") || !strings.Contains(sent, "sent") || strings.Contains(sent, "mailto:") {
		t.Errorf("sent:\n%s", sent)
	}
	var ds []store.Delivery
	if err := json.Unmarshal([]byte(runOK("tlsrpt", "sent", "-json")), &ds); err != nil || len(ds) != 1 || ds[0].State != "sent" {
		t.Errorf("sent -json: %+v %v", ds, err)
	}
	if show := runOK("tlsrpt", "show", "r1@s.example"); !strings.Contains(show, `"report-id": "r1@s.example"`) {
		t.Errorf("show:\n%s", show)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"tlsrpt", "show", "nope", "-config", cfgPath}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no such report") {
		t.Errorf("unknown id: %d %s", code, errb.String())
	}
	if code := run([]string{"tlsrpt", "bogus"}, &out, &errb); code != 2 {
		t.Errorf("bad subcommand: %d", code)
	}
}
