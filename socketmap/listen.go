package socketmap

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"time"
)

// ListenUnix listens on the Unix-domain socket path for Postfix's "socketmap:unix:path:name"
// tables. A file left at path by a previous run is removed first, but only if it is a socket
// that nobody answers on (a live server's socket, or any other kind of file, is an error).
// owner and group (names or numeric ids; empty = unchanged) and mode are then applied to the
// socket file, so that Postfix's unprivileged processes may connect. The socket file is
// removed when the listener is closed.
//
// Between creating the socket and the chmod the file carries the process umask; run the
// daemon with a restrictive umask (systemd's default 0022 is fine) if that window matters.
func ListenUnix(path string, owner, group string, mode os.FileMode) (net.Listener, error) {
	uid, gid, err := lookupIDs(owner, group)
	if err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("socketmap: chown %s: %w", path, err)
		}
	}
	if err := os.Chmod(path, mode.Perm()); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socketmap: chmod %s: %w", path, err)
	}
	return ln, nil
}

// removeStaleSocket deletes path if it is a socket without a listener.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socketmap: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("socketmap: %s exists and is not a socket; refusing to replace it", path)
	}
	// Local probe only (Unix socket): a live server answers the connect at once.
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("socketmap: %s is in use by a running server", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("socketmap: removing stale socket: %w", err)
	}
	return nil
}

// lookupIDs resolves owner and group (names or numeric ids) to ids; -1 means unchanged.
func lookupIDs(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = strconv.Atoi(owner); err != nil {
			u, lerr := user.Lookup(owner)
			if lerr != nil {
				return -1, -1, fmt.Errorf("socketmap: socket owner: %w", lerr)
			}
			if uid, err = strconv.Atoi(u.Uid); err != nil {
				return -1, -1, fmt.Errorf("socketmap: socket owner %q: non-numeric uid %q", owner, u.Uid)
			}
		}
	}
	if group != "" {
		if gid, err = strconv.Atoi(group); err != nil {
			g, lerr := user.LookupGroup(group)
			if lerr != nil {
				return -1, -1, fmt.Errorf("socketmap: socket group: %w", lerr)
			}
			if gid, err = strconv.Atoi(g.Gid); err != nil {
				return -1, -1, fmt.Errorf("socketmap: socket group %q: non-numeric gid %q", group, g.Gid)
			}
		}
	}
	if uid < -1 || gid < -1 {
		return -1, -1, fmt.Errorf("socketmap: negative socket owner or group id")
	}
	return uid, gid, nil
}
