package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("mta_sts:\n  fetch_timeout: 5s\n"), 0o644)
	os.WriteFile(bad, []byte("mta_sts:\n  fetch_timeout: 5s\n  max_body: 10\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"config", "check", good}, &out, &errb); code != 0 || out.String() != good+": OK\n" || errb.Len() != 0 {
		t.Errorf("good config: exit %d, %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"config", "check", bad}, &out, &errb); code != 1 || errb.String() != bad+":3: mta_sts.max_body: 10 is outside 1024..1048576 bytes\n" || out.Len() != 0 {
		t.Errorf("bad config: exit %d, stdout %q, stderr %q: want the file, line, key and range", code, out.String(), errb.String())
	}
	// Issue 11: an empty file is not a configuration.
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	out.Reset()
	errb.Reset()
	if code := run([]string{"config", "check", empty}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "empty.yaml: the file holds no settings") {
		t.Errorf("empty config: exit %d, stdout %q, stderr %q: want it refused", code, out.String(), errb.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "mailtls serve [-config FILE]") {
		t.Errorf("no args: exit %d, stderr %q: want the usage", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.HasPrefix(errb.String(), "mailtls: unknown command \"frobnicate\"\n") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errb.String())
	}
	for _, sub := range [][]string{{"serve", "-h"}, {"query", "-h"}, {"cache", "-h"}} {
		errb.Reset()
		if code := run(sub, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Usage: mailtls "+sub[0]) {
			t.Errorf("%v: exit %d, %q", sub, code, errb.String())
		}
	}
}
