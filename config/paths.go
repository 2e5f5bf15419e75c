package config

import (
	"os"
	"path/filepath"
	"strings"
)

// StateDirPath is where persistent state lives: state_dir, else systemd's
// $STATE_DIRECTORY, else /var/lib/mailtls for root, else $XDG_STATE_HOME/mailtls
// (~/.local/state/mailtls).
func (c *Config) StateDirPath() string {
	if c.StateDir != "" {
		return c.StateDir
	}
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		// systemd may list several directories separated by colons; the first is ours.
		return strings.Split(d, ":")[0]
	}
	if os.Geteuid() == 0 {
		return "/var/lib/mailtls"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "mailtls")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "mailtls")
	}
	return filepath.Join(os.TempDir(), "mailtls")
}

// CachePath is the SQLite store's file.
func (c *Config) CachePath() string {
	if c.Cache.Path != "" {
		return c.Cache.Path
	}
	return filepath.Join(c.StateDirPath(), "cache.db")
}

// ControlPath is the Unix socket the CLI talks to the running daemon on.
func (c *Config) ControlPath() string {
	if c.Listen.Control != "" {
		return c.Listen.Control
	}
	return filepath.Join(c.StateDirPath(), "control.sock")
}
