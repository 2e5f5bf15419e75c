package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/lab"
)

// A New that fails after the audit log, the cache store and the TLS report store were
// opened (here: the received-report store's directory is a regular file) closes them
// again: no file under the test's directory stays open, and a second New with the same
// state directory builds.
func TestNewFailureReleasesWhatItOpened(t *testing.T) {
	l := lab.New(t)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "tlsrpt.sock")
	base := l.Config("", lab.FreeAddr(t), dir) + fmt.Sprintf(`
audit: {file: %s}
tlsrpt:
  enabled: true
  socket: %s
  organization: Test Org
  contact: mailto:pm@sender.example
  submitter: sender.example
`, filepath.Join(dir, "audit.log"), sock)
	parse := func(extra string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(base+extra), "newfail.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	bad := parse(fmt.Sprintf("tlsrpt_receiver: {enabled: true, path: %s}\n", filepath.Join(blocker, "received.db")))

	for i := 0; i < 3; i++ {
		if d, err := New(bad, slog.New(slog.DiscardHandler)); err == nil {
			t.Fatalf("New built a daemon (%v) with its received-report store under a regular file", d)
		}
	}
	if open := filesOpenUnder(t, dir); len(open) > 0 {
		t.Errorf("after three failed New calls, files under the state directory are still open: %v", open)
	}
	d, err := New(parse(""), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New after the failures: %v", err)
	}
	d.audit.Load().close(nil)
	d.tlsrpt.st.Close()
	d.parts.Backend.Close()
	d.stateLock.Close()
}

// filesOpenUnder lists the files under dir this process has open (/proc/self/fd): only
// the files of the test's own directory, so other tests' connections do not count.
func filesOpenUnder(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to see open files: %v", err)
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			open = append(open, target)
		}
	}
	return open
}
