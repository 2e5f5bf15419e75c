package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// unit is a parsed systemd unit file with its drop-ins: every value of every key of the
// sections that matter here ([Service], [Socket]), in file order.
type unit map[string][]string

// parseUnit reads path and then each drop-in, as systemd does (later assignments add to
// list settings; an empty assignment resets the list).
func parseUnit(path string, dropIns []string) (unit, error) {
	u := unit{}
	for _, p := range append([]string{path}, dropIns...) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		section := ""
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "" || line[0] == '#' || line[0] == ';':
			case strings.HasPrefix(line, "["):
				section = strings.Trim(line, "[]")
			case section == "Service" || section == "Socket":
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					f.Close()
					return nil, fmt.Errorf("%s:%d: not key=value", p, n)
				}
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				if v == "" {
					u[k] = []string{""}
					continue
				}
				u[k] = append(u[k], v)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// last is the value a single-valued setting ends up with.
func (u unit) last(k string) string {
	if v := u[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// words are the space-separated values of a list setting, after the last reset.
func (u unit) words(k string) []string {
	var out []string
	for _, v := range u[k] {
		if v == "" {
			out = nil
			continue
		}
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// applied are the [Service] settings this program carries out; informational are those
// it knows and leaves to systemd (ordering, restarts, or protections implied here by the
// empty capability set). A setting in neither list stops the test: a new hardening line
// must be taught to the sandbox before it can be claimed as tested.
var (
	applied = []string{"ExecStart", "User", "Group", "StateDirectory", "StateDirectoryMode",
		"LogsDirectory", "LogsDirectoryMode", "ConfigurationDirectory", "ReadWritePaths",
		"ProtectSystem", "ProtectHome", "PrivateTmp", "NoNewPrivileges", "CapabilityBoundingSet",
		"AmbientCapabilities", "SystemCallFilter", "SystemCallErrorNumber", "SystemCallArchitectures",
		"RestrictAddressFamilies", "UMask"}
	informational = []string{"Type", "ExecReload", "Restart", "RestartSec", "PrivateDevices",
		"ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
		"ProtectClock", "ProtectHostname", "RestrictNamespaces", "RestrictRealtime",
		"RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute"}
	socketKeys = []string{"ListenStream", "ListenDatagram", "SocketUser", "SocketGroup", "SocketMode", "RemoveOnStop"}
)

// checkKnown fails on settings the sandbox neither applies nor knows to leave out.
func (u unit) checkKnown(socket bool) error {
	for k := range u {
		known := slices.Contains(applied, k) || slices.Contains(informational, k)
		if socket {
			known = slices.Contains(socketKeys, k)
		}
		if !known {
			return fmt.Errorf("unit setting %s is not handled by the test sandbox", k)
		}
	}
	return nil
}

// rwPaths are the paths that stay writable under ProtectSystem=strict.
func (u unit) rwPaths() []string {
	var out []string
	for _, d := range u.words("StateDirectory") {
		out = append(out, filepath.Join("/var/lib", d))
	}
	for _, d := range u.words("LogsDirectory") {
		out = append(out, filepath.Join("/var/log", d))
	}
	for _, p := range u.words("ReadWritePaths") {
		out = append(out, strings.TrimPrefix(p, "-"))
	}
	return out
}
