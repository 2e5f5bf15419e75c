// Command unitexec runs a program under the sandbox settings of a systemd unit on a
// machine whose PID 1 is not systemd, for the tests of packaging/systemd: the sockets of
// a socket unit (with its SocketUser/SocketGroup/SocketMode) passed as systemd passes
// them (LISTEN_FDS, sd_listen_fds(3)), the state and log directories, ProtectSystem=strict
// and friends in a mount namespace of its own, the user, no capabilities and
// no_new_privs through setpriv(1), and SystemCallFilter as a seccomp filter whose system
// call groups come from the installed systemd itself (systemd-analyze syscall-filter).
//
//	unitexec start -service mailtls.service [-socket mailtls.socket] [-dropin FILE]... [-- ARGS]
//
// start must run as root, inside namespaces the caller made for the test (it changes
// the mount table of its own mount namespace only). It waits for the program, forwards
// SIGTERM, and exits with its status.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: unitexec start|inner|seccomp ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "start":
		err = start(os.Args[2:])
	case "inner":
		err = inner(os.Args[2:])
	case "seccomp":
		err = seccompExec(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "unitexec:", err)
		os.Exit(1)
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
