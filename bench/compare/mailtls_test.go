package compare

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/lab"
)

// mailtlsBinary returns bin, or builds cmd/mailtls when bin is empty.
func mailtlsBinary(t *testing.T, bin string) string {
	t.Helper()
	if bin != "" {
		return bin
	}
	bin = filepath.Join(t.TempDir(), "mailtls")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mailtls/mailtls/cmd/mailtls").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startMailtls runs mailtls serve on addr with the lab's configuration (its resolver and
// CA), logging at warn so that neither daemon logs per request, and the default cache
// (hot store in memory, written behind to SQLite in a fresh state directory).
func startMailtls(t *testing.T, bin, addr string, l *lab.Lab) *proc {
	t.Helper()
	dir := t.TempDir()
	cfg := l.Config(l.DNS.Addr, addr, dir)
	if !strings.Contains(cfg, "log: {level: debug}") {
		t.Fatalf("lab configuration changed; update the log level edit:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "log: {level: debug}", "log: {level: warn}", 1)
	path := filepath.Join(dir, "mailtls.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "mailtls", addr, nil, bin, "serve", "-config", path)
}

// mailtlsVersion is what the binary says it is, for the report.
func mailtlsVersion(bin string) string {
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(version: %v)", err)
	}
	return strings.TrimSpace(string(out))
}
