package socketmap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// TestListenUnixMode: the requested permission bits are applied to the socket file whatever
// the umask, so Postfix's unprivileged processes can (or cannot) connect.
func TestListenUnixMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o660, 0o666, 0o620} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sm.sock")
			ln, err := ListenUnix(path, "", "", mode)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != mode {
				t.Fatalf("socket file mode %v, want socket with %v", fi.Mode(), mode)
			}
			ln.Close()
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket file left behind after Close: %v", err)
			}
		})
	}
}

// TestListenUnixExistingFile: a stale socket from a crashed run is replaced; a live server's
// socket and any non-socket file are left alone and reported.
func TestListenUnixExistingFile(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr bool
	}{
		{"stale socket is replaced", func(t *testing.T, path string) {
			ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			ul.SetUnlinkOnClose(false)
			ul.Close()
		}, false},
		{"live socket is refused", func(t *testing.T, path string) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}, true},
		{"regular file is refused", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"directory is refused", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sm.sock")
			tc.prepare(t, path)
			before, _ := os.Lstat(path)
			ln, err := ListenUnix(path, "", "", 0o660)
			if tc.wantErr {
				if err == nil {
					ln.Close()
					t.Fatal("ListenUnix succeeded, want an error")
				}
				after, err := os.Lstat(path)
				if err != nil || !os.SameFile(before, after) {
					t.Fatalf("existing file was touched: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			s := &Server{Handler: echo}
			go s.Serve(ln)
			defer s.Shutdown(t.Context())
			if got := dial(t, ln.Addr()).roundTrip("m k"); got != "OK m|k" {
				t.Fatalf("replaced socket does not serve: %q", got)
			}
		})
	}
}

// TestListenUnixOwnership: owner and group are accepted as names or numeric ids and applied;
// unknown names are errors, before any socket is created.
func TestListenUnixOwnership(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("the current user in the user database: %v", err))
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("the current group in the group database: %v", err))
	}
	uid, gid := os.Getuid(), os.Getgid()
	type tc struct {
		name, owner, group string
		wantUID, wantGID   int
		wantErr            bool
	}
	cases := []tc{
		{"unchanged", "", "", uid, gid, false},
		{"numeric ids", strconv.Itoa(uid), strconv.Itoa(gid), uid, gid, false},
		{"names", me.Username, grp.Name, uid, gid, false},
		{"unknown user", "mailtls-no-such-user", "", 0, 0, true},
		{"unknown group", "", "mailtls-no-such-group", 0, 0, true},
	}
	if uid == 0 {
		cases = append(cases,
			tc{"root may hand the socket to another uid", "65534", "", 65534, gid, false},
			tc{"root may hand the socket to another gid", "", "65534", 0, 65534, false})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sm.sock")
			ln, err := ListenUnix(path, c.owner, c.group, 0o660)
			if c.wantErr {
				if err == nil {
					ln.Close()
					t.Fatal("ListenUnix succeeded, want an error")
				}
				if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("socket created despite the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Uid) != c.wantUID || int(st.Gid) != c.wantGID {
				t.Fatalf("socket owned by %d:%d, want %d:%d", st.Uid, st.Gid, c.wantUID, c.wantGID)
			}
		})
	}
}
