package socketmap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/testenv"
)

// TestPostmapInterop: Postfix's own socketmap client (postmap -q, socketmap_table(5)) talks
// to the Server over TCP and a Unix socket: an OK reply prints the data after "OK ", a
// NOTFOUND reply prints nothing and exits 1.
func TestPostmapInterop(t *testing.T) {
	postmap := testenv.LookPath(t, "postmap", "Debian package postfix")
	h := HandlerFunc(func(_ context.Context, name, key string) string {
		if name != "name" {
			return "PERM unexpected map name " + name
		}
		if key == "example.com" {
			return "OK secure match=example.com"
		}
		return "NOTFOUND "
	})
	cases := []struct {
		name, key, wantOut string
		wantExit           int
	}{
		{"OK reply: postmap prints the data", "example.com", "secure match=example.com\n", 0},
		{"NOTFOUND: postmap prints nothing and exits 1", "other.example", "", 1},
	}
	// postmap reads main.cf from -c; a minimal one of our own keeps the test off the
	// system configuration (Debian's "No configuration" install has none).
	pfdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(pfdir, "main.cf"), []byte("compatibility_level = 3.6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, network := range networks {
		s := &Server{Handler: h}
		addr := startServer(t, s, network)
		table := fmt.Sprintf("socketmap:inet:%s:name", addr.String())
		if network == "unix" {
			table = fmt.Sprintf("socketmap:unix:%s:name", filepath.Clean(addr.String()))
		}
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, postmap, "-c", pfdir, "-q", tc.key, table)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				exit := 0
				if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
					exit = ee.ExitCode()
				} else if err != nil {
					t.Fatalf("postmap: %v", err)
				}
				if exit != tc.wantExit || stdout.String() != tc.wantOut {
					t.Fatalf("postmap -q %s %s: exit %d, stdout %q; want exit %d, stdout %q (stderr %q)",
						tc.key, table, exit, stdout.String(), tc.wantExit, tc.wantOut, strings.TrimSpace(stderr.String()))
				}
				// A TEMP/PERM reply or a protocol error makes postmap complain on stderr;
				// a clean lookup (found or not found) does not.
				if stderr.Len() > 0 {
					t.Fatalf("postmap complained: %q", strings.TrimSpace(stderr.String()))
				}
			})
		}
	}
}
