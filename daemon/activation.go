package daemon

import (
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"

	"github.com/mailtls/mailtls/config"
)

// passedSockets are the sockets systemd passed the daemon (socket activation,
// sd_listen_fds(3)), told apart by their type: a mailtls.socket unit owns the addresses,
// so Postfix's connections and datagrams wait in the kernel across restarts, and systemd,
// not the unprivileged daemon, creates them where Postfix needs them.
type passedSockets struct {
	stream []net.Listener // ListenStream=: socketmap listeners
	dgram  *net.UnixConn  // ListenDatagram= on a path: the TLSRPT collector's socket
}

// inheritSockets takes the descriptors systemd passed (none outside socket activation).
// A stream socket is a socketmap listener; a Unix datagram socket is the TLSRPT
// collector's (at most one); anything else is refused, so a unit that passes a socket the
// daemon would silently ignore fails at start with a message saying which.
func inheritSockets() (passedSockets, error) {
	var p passedSockets
	files := activation.Files(true)
	fail := func(err error) (passedSockets, error) {
		p.close()
		for _, f := range files {
			f.Close()
		}
		return passedSockets{}, err
	}
	for len(files) > 0 {
		f := files[0]
		files = files[1:]
		typ, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			f.Close()
			return fail(fmt.Errorf("socket activation: descriptor %s is not a socket: %w", f.Name(), err))
		}
		switch typ {
		case unix.SOCK_STREAM:
			ln, err := net.FileListener(f)
			f.Close()
			if err != nil {
				return fail(fmt.Errorf("socket activation: %s: %w", f.Name(), err))
			}
			p.stream = append(p.stream, ln)
		case unix.SOCK_DGRAM:
			pc, err := net.FilePacketConn(f)
			f.Close()
			if err != nil {
				return fail(fmt.Errorf("socket activation: %s: %w", f.Name(), err))
			}
			uc, ok := pc.(*net.UnixConn)
			if !ok || p.dgram != nil {
				pc.Close()
				return fail(fmt.Errorf("socket activation: datagram socket %s: only one, on a path (ListenDatagram=/…), is used: the TLSRPT collector's", pc.LocalAddr()))
			}
			p.dgram = uc
		default:
			f.Close()
			return fail(fmt.Errorf("socket activation: descriptor %s has socket type %d; only ListenStream= and ListenDatagram= are used", f.Name(), typ))
		}
	}
	return p, nil
}

func (p *passedSockets) close() {
	for _, ln := range p.stream {
		ln.Close()
	}
	if p.dgram != nil {
		p.dgram.Close()
	}
}

// socketmapListeners returns the sockets the daemon answers Postfix on: the stream
// sockets systemd passed, or, when none were passed, the configured listen.socketmap
// entries, bound here. activated says which.
func socketmapListeners(passed []net.Listener, conf []config.Listener) (lns []net.Listener, activated bool, err error) {
	if len(passed) > 0 {
		return passed, true, nil
	}
	for _, l := range conf {
		ln, err := listen(l)
		if err != nil {
			for _, prev := range lns {
				prev.Close()
			}
			return nil, false, err
		}
		lns = append(lns, ln)
	}
	return lns, false, nil
}
