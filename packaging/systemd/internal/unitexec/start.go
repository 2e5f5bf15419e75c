package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// start creates what systemd creates before the service runs (sockets, directories),
// then runs the inner stage in a new mount namespace with the sockets as fds 3, 4, ...
func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	service := fs.String("service", "", "the service unit")
	socket := fs.String("socket", "", "the socket unit (optional)")
	var dropIns listFlag
	fs.Var(&dropIns, "dropin", "a drop-in of the socket unit (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	svc, err := parseUnit(*service, nil)
	if err != nil {
		return err
	}
	if err := svc.checkKnown(false); err != nil {
		return err
	}
	argv := strings.Fields(svc.last("ExecStart"))
	argv = append(argv, fs.Args()...)
	if len(argv) == 0 {
		return errors.New("no ExecStart")
	}
	uid, gid, err := ids(svc.last("User"), svc.last("Group"))
	if err != nil {
		return err
	}
	// StateDirectory= and LogsDirectory=: created and owned by the service's user.
	for _, d := range []struct{ key, base string }{{"StateDirectory", "/var/lib"}, {"LogsDirectory", "/var/log"}} {
		mode, err := octal(svc.last(d.key+"Mode"), 0o755)
		if err != nil {
			return err
		}
		for _, name := range svc.words(d.key) {
			p := filepath.Join(d.base, name)
			if err := os.MkdirAll(p, mode); err != nil {
				return err
			}
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
		}
	}

	var files []*os.File
	if *socket != "" {
		sock, err := parseUnit(*socket, dropIns)
		if err != nil {
			return err
		}
		if err := sock.checkKnown(true); err != nil {
			return err
		}
		if files, err = listen(sock); err != nil {
			return err
		}
	}
	allowed, err := allowedSyscalls(svc)
	if err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	innerArgs := []string{"inner", "-service", *service, "-nfds", strconv.Itoa(len(files)),
		"-syscalls", strings.Join(allowed, ","), "--"}
	cmd := exec.Command(self, append(innerArgs, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	cmd.Env, err = serviceEnv(svc)
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		return err
	}
	for _, f := range files {
		f.Close()
	}
	fmt.Fprintf(os.Stderr, "unitexec: started pid %d\n", cmd.Process.Pid)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range term {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	fmt.Fprintf(os.Stderr, "unitexec: %s\n", cmd.ProcessState)
	return err
}

// listen opens every ListenStream and ListenDatagram of a socket unit as systemd does
// (systemd.socket(5)): a path is a Unix socket created with SocketUser, SocketGroup and
// SocketMode in parent directories made as needed; anything else an address. Stream
// sockets come first, then datagram sockets, each in the unit's order.
func listen(sock unit) ([]*os.File, error) {
	var files []*os.File
	for _, kind := range []struct{ key, unixNet, inetNet string }{
		{"ListenStream", "unix", "tcp"}, {"ListenDatagram", "unixgram", "udp"},
	} {
		for _, addr := range sock.words(kind.key) {
			f, err := open(sock, kind.unixNet, kind.inetNet, addr)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %w", kind.key, addr, err)
			}
			files = append(files, f)
		}
	}
	return files, nil
}

// open creates one socket of a socket unit and returns its descriptor as a file.
func open(sock unit, unixNet, inetNet, addr string) (*os.File, error) {
	var s interface{ File() (*os.File, error) }
	switch {
	case strings.HasPrefix(addr, "/"):
		if err := os.MkdirAll(filepath.Dir(addr), 0o755); err != nil { // DirectoryMode= default
			return nil, err
		}
		os.Remove(addr)
		if unixNet == "unix" {
			l, err := net.ListenUnix(unixNet, &net.UnixAddr{Name: addr, Net: unixNet})
			if err != nil {
				return nil, err
			}
			s = l
		} else {
			c, err := net.ListenUnixgram(unixNet, &net.UnixAddr{Name: addr, Net: unixNet})
			if err != nil {
				return nil, err
			}
			s = c
		}
		uid, gid, err := ids(orDefault(sock.last("SocketUser"), "root"), orDefault(sock.last("SocketGroup"), "root"))
		if err != nil {
			return nil, err
		}
		mode, err := octal(sock.last("SocketMode"), 0o666)
		if err != nil {
			return nil, err
		}
		if err := os.Chown(addr, uid, gid); err != nil {
			return nil, err
		}
		if err := os.Chmod(addr, mode); err != nil {
			return nil, err
		}
	case inetNet == "tcp":
		l, err := net.Listen(inetNet, addr)
		if err != nil {
			return nil, err
		}
		s = l.(*net.TCPListener)
	default:
		c, err := net.ListenPacket(inetNet, addr)
		if err != nil {
			return nil, err
		}
		s = c.(*net.UDPConn)
	}
	return s.File()
}

func ids(userName, groupName string) (int, int, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return 0, 0, err
	}
	g, err := user.LookupGroup(orDefault(groupName, userName))
	if err != nil {
		return 0, 0, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return uid, gid, nil
}

func octal(s string, def os.FileMode) (os.FileMode, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	return os.FileMode(v), err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// serviceEnv is the environment systemd gives a service: a fixed PATH, the user's
// identity and home, and the directories of StateDirectory=, LogsDirectory= and
// ConfigurationDirectory= (systemd.exec(5), "Environment variables in spawned processes").
func serviceEnv(svc unit) ([]string, error) {
	u, err := user.Lookup(svc.last("User"))
	if err != nil {
		return nil, err
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}
	for _, d := range []struct{ key, env, base string }{
		{"StateDirectory", "STATE_DIRECTORY", "/var/lib"},
		{"LogsDirectory", "LOGS_DIRECTORY", "/var/log"},
		{"ConfigurationDirectory", "CONFIGURATION_DIRECTORY", "/etc"},
	} {
		var paths []string
		for _, name := range svc.words(d.key) {
			paths = append(paths, filepath.Join(d.base, name))
		}
		if len(paths) > 0 {
			env = append(env, d.env+"="+strings.Join(paths, ":"))
		}
	}
	return env, nil
}
