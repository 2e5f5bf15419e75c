package haraka

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
)

// pinnedHaraka returns the Haraka version package.json pins (devDependencies.Haraka).
func pinnedHaraka(t *testing.T) string {
	t.Helper()
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	data, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatal(err)
	}
	v := pkg.DevDependencies["Haraka"]
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Fatalf("package.json must pin Haraka to an exact version, has %q", v)
	}
	return v
}

// TestPluginTests runs the plugin's node:test suite against the pinned Haraka installed in
// node_modules (scripts/install-test-deps.sh runs npm ci here).
func TestPluginTests(t *testing.T) {
	want := pinnedHaraka(t)
	node := testenv.LookPath(t, "node", "Debian package nodejs (>= 20); scripts/install-test-deps.sh")
	// test/certs.js makes the DANE tests' certificates with it.
	testenv.LookPath(t, "openssl", "Debian package openssl; scripts/install-test-deps.sh")
	var installed struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join("node_modules", "Haraka", "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &installed)
	}
	if err != nil || installed.Version != want {
		testenv.Missing(t, "Haraka "+want+" not in integrations/haraka/node_modules (scripts/install-test-deps.sh runs npm ci there)")
		return
	}
	tests, err := filepath.Glob("test/*.test.js")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test", "--test-reporter=tap"}, tests...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	count := func(name string) int {
		m := regexp.MustCompile(`(?m)^# ` + name + ` (\d+)$`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no %q line in node --test output:\n%s", name, out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	pass, fail, skipped, todo := count("pass"), count("fail"), count("skipped"), count("todo")
	if fail != 0 || skipped != 0 || todo != 0 || pass == 0 {
		t.Fatalf("node --test: pass %d fail %d skipped %d todo %d\n%s", pass, fail, skipped, todo, out)
	}
	t.Logf("node --test (Haraka %s, %d files): %d passed", want, len(tests), pass)
}
