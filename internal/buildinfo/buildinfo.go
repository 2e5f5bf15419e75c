// Package buildinfo says which mailtls this is: the version, commit and commit date that
// a release build stamps in with the linker (make release: -ldflags -X), falling back to
// what the Go toolchain records from version control (-buildvcs), and the Go version.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Stamped by the linker in release builds (-X github.com/mailtls/mailtls/internal/buildinfo.version=…);
// never assigned at run time.
var (
	version string
	commit  string
	date    string
)

// Info describes the running binary.
type Info struct {
	Version string // release version ("1.2.0"), the module version, or "devel"
	Commit  string // full commit hash, "+dirty" appended for a modified work tree; "" if unknown
	Date    string // commit date, RFC 3339 UTC; "" if unknown
	Go      string // Go toolchain that built it
}

// Get returns the build's Info.
func Get() Info {
	in := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if in.Version == "" {
			in.Version = "devel"
		}
		return in
	}
	if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		in.Version = bi.Main.Version
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if in.Commit == "" {
				in.Commit = s.Value
			}
		case "vcs.time":
			if in.Date == "" {
				in.Date = s.Value
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && commit == "" && in.Commit != "" {
		in.Commit += "+dirty"
	}
	return in
}

// String is the one-line form "mailtls VERSION (commit COMMIT, DATE, GO)".
func (in Info) String() string {
	c, d := in.Commit, in.Date
	if c == "" {
		c = "unknown"
	}
	if d == "" {
		d = "unknown date"
	}
	return "mailtls " + in.Version + " (commit " + c + ", " + d + ", " + in.Go + ")"
}
