package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// ErrStateDirInUse means another mailtls serve holds the state directory.
var ErrStateDirInUse = errors.New("state directory in use by another mailtls serve")

// ErrControlInUse means a running daemon answers on the control socket's path.
var ErrControlInUse = errors.New("control socket in use by a running mailtls")

// lockStateDir takes an exclusive, non-blocking flock on the state directory, held for the
// daemon's life (the kernel releases it when the process ends, however it ends), so that
// a second serve on the same directory stops before it touches the store or the control
// socket. A directory that cannot be created or opened is not an error here (the store
// then says what is wrong); one that another process has locked is ErrStateDirInUse.
func lockStateDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (stop it first, or give this one another state_dir)", ErrStateDirInUse, dir)
		}
		return nil, nil // e.g. a file system without flock: run unlocked
	}
	return f, nil
}

// probeControl reports ErrControlInUse when a daemon answers on the Unix socket at path
// (a local connect is answered at once), and nil when nothing does: a file left there by
// a previous run is stale.
func probeControl(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%w: %s", ErrControlInUse, path)
}
