package config

import (
	"errors"
	"io/fs"
	"os"
)

// DefaultPath is the configuration file the packaged service runs with
// (packaging/systemd/mailtls.service); the CLI uses it too when it exists.
const DefaultPath = "/etc/mailtls/mailtls.yaml"

// EnvVar names the environment variable that overrides DefaultPath for every command.
const EnvVar = "MAILTLS_CONFIG"

// Location is the configuration file a command uses and why it was chosen. Path "" means
// the embedded default alone.
type Location struct {
	Path string
	Why  string
}

// Locate picks the configuration file, in this order: flagValue (-config), the
// environment variable EnvVar, defaultPath when it exists (also when it cannot be read:
// Load then says why), else the embedded default. getenv is os.Getenv outside tests.
func Locate(flagValue string, getenv func(string) string, defaultPath string) Location {
	switch {
	case flagValue != "":
		return Location{Path: flagValue, Why: "-config"}
	case getenv(EnvVar) != "":
		return Location{Path: getenv(EnvVar), Why: "$" + EnvVar}
	}
	if _, err := os.Stat(defaultPath); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return Location{Path: defaultPath, Why: "the service's file"}
	}
	return Location{Why: "embedded default: " + defaultPath + " does not exist"}
}

// String names the file and the reason ("/etc/mailtls/mailtls.yaml (the service's file)").
func (l Location) String() string {
	if l.Path == "" {
		return "<default> (" + l.Why + ")"
	}
	return l.Path + " (" + l.Why + ")"
}
