package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
)

// systemd socket activation, with systemd's own tool in systemd's place: the socket it
// passes is where Postfix is answered, and the listen.socketmap of the configuration is
// not bound (the socket unit owns the address).
func TestSocketActivation(t *testing.T) {
	activate := testenv.LookPath(t, "systemd-socket-activate", "Debian package systemd")
	l := lab.New(t)
	l.STS("example.com", "1", lab.Policy("enforce", 86400, "mx.example.com"))
	bin := buildBinary(t)
	dir := t.TempDir()
	configured, passed := lab.FreeAddr(t), lab.FreeAddr(t)
	cfg := writeConfig(t, dir, l.Config("", configured, dir))
	p := startProc(t, passed, activate, "-l", passed, bin, "serve", "-config", cfg)

	if got := lab.Query(t, passed, "postfix", "example.com"); got != "OK secure match=mx.example.com servername=hostname" {
		t.Errorf("on the passed socket: %q", got)
	}
	if c, err := net.DialTimeout("tcp", configured, time.Second); err == nil {
		c.Close()
		t.Errorf("the configured address %s was bound although systemd passed a socket", configured)
	}
	if !strings.Contains(p.logs.String(), "socket activation") {
		t.Errorf("the log does not say the sockets came from systemd:\n%s", p.logs)
	}
}
