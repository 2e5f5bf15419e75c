package daemon

import (
	"net"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/mailtls/mailtls/config"
)

// socketmapListeners returns the sockets the daemon answers Postfix on: those systemd
// passed it (socket activation, sd_listen_fds(3): a mailtls.socket unit owns the
// addresses, so Postfix's connections wait in its backlog across restarts), or, when none
// were passed, the configured listen.socketmap entries, bound here. activated says which.
func socketmapListeners(conf []config.Listener) (lns []net.Listener, activated bool, err error) {
	inherited, err := activation.Listeners()
	if err != nil {
		return nil, false, err
	}
	for _, ln := range inherited {
		if ln != nil { // a passed descriptor that is not a listening socket is ignored
			lns = append(lns, ln)
		}
	}
	if len(lns) > 0 {
		return lns, true, nil
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
