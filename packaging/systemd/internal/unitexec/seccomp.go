package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
)

// seccompExec loads the unit's system call filter (no_new_privs is already set by
// setpriv) and executes the program with the passed sockets announced as systemd does.
func seccompExec(args []string) error {
	fs := flag.NewFlagSet("seccomp", flag.ContinueOnError)
	nfds := fs.Int("nfds", 0, "sockets passed as fds 3...")
	syscalls := fs.String("syscalls", "", "allowed system calls, comma-separated")
	errno := fs.String("errno", "", "SystemCallErrorNumber (only EPERM, or empty: kill)")
	families := fs.String("families", "", "RestrictAddressFamilies, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no program")
	}
	prog, err := exec.LookPath(fs.Arg(0))
	if err != nil {
		return err
	}
	policy, skipped, err := buildPolicy(strings.Split(*syscalls, ","), *errno, *families)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "unitexec: seccomp filter: %d system calls allowed (%d names unknown on this architecture), default %s\n",
		len(strings.Split(*syscalls, ","))-skipped, skipped, policy.DefaultAction)
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: policy}); err != nil {
		return fmt.Errorf("load filter: %w", err)
	}
	env := os.Environ()
	if *nfds > 0 {
		names := make([]string, *nfds)
		for i := range names {
			names[i] = "mailtls"
		}
		env = append(env, "LISTEN_FDS="+strconv.Itoa(*nfds), "LISTEN_PID="+strconv.Itoa(os.Getpid()),
			"LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	return syscall.Exec(prog, fs.Args(), env)
}

// buildPolicy allows the named calls (socket only for the allowed address families) and
// answers every other call with EPERM (SystemCallErrorNumber=EPERM) or kills the process
// (systemd's default without it).
func buildPolicy(names []string, errno, families string) (seccomp.Policy, int, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, 0, err
	}
	p := seccomp.Policy{DefaultAction: seccomp.ActionKillProcess}
	switch errno {
	case "":
	case "EPERM":
		p.DefaultAction = seccomp.ActionErrno // SECCOMP_RET_ERRNO with EPERM
	default:
		return p, 0, fmt.Errorf("SystemCallErrorNumber=%s is not supported by this sandbox", errno)
	}
	allow := seccomp.SyscallGroup{Action: seccomp.ActionAllow}
	skipped := 0
	restrict := families != ""
	for _, n := range names {
		if _, ok := info.SyscallNames[n]; !ok {
			skipped++ // another architecture's call (e.g. arm_fadvise64_64)
			continue
		}
		if n == "socket" && restrict {
			continue
		}
		allow.Names = append(allow.Names, n)
	}
	if restrict {
		for _, f := range strings.Split(families, ",") {
			v, ok := map[string]uint64{"AF_UNIX": syscall.AF_UNIX, "AF_INET": syscall.AF_INET, "AF_INET6": syscall.AF_INET6}[f]
			if !ok {
				return p, 0, fmt.Errorf("address family %s is not supported by this sandbox", f)
			}
			allow.NamesWithCondtions = append(allow.NamesWithCondtions, seccomp.NameWithConditions{
				Name: "socket", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.Equal, Value: v}}})
		}
	}
	p.Syscalls = []seccomp.SyscallGroup{allow}
	return p, skipped, nil
}
