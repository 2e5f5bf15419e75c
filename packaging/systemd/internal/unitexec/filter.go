package main

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// allowedSyscalls turns the unit's SystemCallFilter lines into the list of allowed system
// call names, as systemd does: the first line is an allow list (systemd.exec(5)), each
// later "~" line removes its calls from it. Groups (@name) are expanded by the installed
// systemd (systemd-analyze syscall-filter), so the groups are systemd's own, not a copy.
func allowedSyscalls(svc unit) ([]string, error) {
	lines := svc["SystemCallFilter"]
	if len(lines) == 0 {
		return nil, errors.New("no SystemCallFilter: nothing to apply")
	}
	if strings.HasPrefix(lines[0], "~") {
		return nil, errors.New("a deny-list-first SystemCallFilter is not supported by this sandbox")
	}
	allow := map[string]bool{}
	for i, line := range lines {
		deny := strings.HasPrefix(line, "~")
		if i == 0 == deny {
			return nil, fmt.Errorf("SystemCallFilter line %q: only one allow line, then ~ lines, are supported", line)
		}
		for _, item := range strings.Fields(strings.TrimPrefix(line, "~")) {
			names, err := expand(item, map[string]bool{})
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				allow[n] = !deny
			}
		}
	}
	var out []string
	for n, ok := range allow {
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// expand lists the system calls of a group (recursively) or returns a plain name.
func expand(item string, seen map[string]bool) ([]string, error) {
	if !strings.HasPrefix(item, "@") {
		return []string{item}, nil
	}
	if seen[item] {
		return nil, nil
	}
	seen[item] = true
	out, err := exec.Command("systemd-analyze", "syscall-filter", item).Output()
	if err != nil {
		return nil, fmt.Errorf("systemd-analyze syscall-filter %s: %w", item, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sub, err := expand(line, seen)
		if err != nil {
			return nil, err
		}
		names = append(names, sub...)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("systemd-analyze syscall-filter %s listed nothing", item)
	}
	return names, nil
}
