package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/dnsclient"
	"github.com/mailtls/mailtls/tlsrpt/collector"
	"github.com/mailtls/mailtls/tlsrpt/reporter"
	"github.com/mailtls/mailtls/tlsrpt/store"
)

// stsObserverSlot is the engine's policy.STSObserver: it forwards MTA-STS fetch failures
// to the TLS reporting observer once there is one (none while tlsrpt is off).
type stsObserverSlot struct {
	cur atomic.Pointer[collector.Observer]
}

func (s *stsObserverSlot) STSFetchFailed(domain, resultType, reason string) {
	if o := s.cur.Load(); o != nil {
		o.STSFetchFailed(domain, resultType, reason)
	}
}

// tlsrptRole is outbound TLS reporting (package tlsrpt) inside the daemon.
type tlsrptRole struct {
	st  *store.Store
	col *collector.Collector
	obs *collector.Observer
	rep *reporter.Reporter
	log *slog.Logger
}

// newTLSRPTRole builds the collector, observer and reporter of cfg.TLSRPT (nil when off).
func newTLSRPTRole(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer, dc *dnsclient.Client, slot *stsObserverSlot) (*tlsrptRole, error) {
	t := cfg.TLSRPT
	if !t.Enabled {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.TLSRPTPath()), 0o700); err != nil {
		return nil, fmt.Errorf("tlsrpt: %w", err)
	}
	st, err := store.Open(cfg.TLSRPTPath())
	if err != nil {
		return nil, err
	}
	mode, _ := t.SocketMode() // validated
	col, err := collector.New(collector.Config{Socket: t.Socket, Owner: t.Owner, Group: t.Group, Mode: mode}, st, log, reg)
	if err != nil {
		st.Close()
		return nil, err
	}
	org := reporter.Org{Name: t.Organization, Contact: t.Contact, Submitter: t.Submitter}
	roots, err := loadRoots(cfg.MTASTS.CAFile)
	if err != nil {
		st.Close()
		return nil, err
	}
	senders := map[string]reporter.Sender{
		// Through the resolver's dialer: its SSRF guard (mta_sts.allow_addresses) applies.
		"https": &reporter.HTTPSSender{Dial: dc.DialContext, RootCAs: roots, UserAgent: "mailtls/" + Version()},
	}
	if t.DKIMKey != "" {
		key, err := reporter.LoadDKIMKey(t.DKIMKey)
		if err != nil {
			st.Close()
			return nil, err
		}
		from := t.From
		if from == "" {
			from = "tlsrpt-noreply@" + t.Submitter
		}
		senders["mailto"] = &reporter.MailSender{Relay: t.SMTPRelay, HeloName: t.Submitter, From: from, Org: org,
			DKIM: &dkim.SignOptions{Domain: t.Submitter, Selector: t.DKIMSelector, Signer: key}}
	} else {
		log.Warn("tlsrpt: no dkim_key configured: reports to mailto: destinations are not sent (receivers drop unsigned reports, RFC 8460 §5.3)")
	}
	rep, err := reporter.New(reporter.Config{Org: org, BuildDelay: t.BuildDelay.D(), Window: t.Window.D(), RetryFor: t.RetryFor.D(), KeepFor: t.KeepFor.D()},
		st, senders, log, reg)
	if err != nil {
		st.Close()
		return nil, err
	}
	r := &tlsrptRole{st: st, col: col, obs: collector.NewObserver(col, dc), rep: rep, log: log}
	slot.cur.Store(r.obs)
	return r, nil
}

// start binds the collector's socket, or takes passed (the datagram socket systemd
// created: ListenDatagram= in mailtls.socket), and runs the collector, observer and
// reporter until the returned stop is called; stop flushes the collector and closes the
// store.
func (r *tlsrptRole) start(passed *net.UnixConn) (stop func(), err error) {
	if passed != nil {
		r.col.Adopt(passed)
		r.log.Info("tlsrpt collector socket passed by systemd (socket activation); tlsrpt.socket of the configuration is not bound", "socket", r.col.Addr())
	} else if err := r.col.Listen(); err != nil {
		r.st.Close()
		return nil, err
	} else if a := r.col.Addr(); a != "" {
		r.log.Info("tlsrpt collector listening", "socket", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.col.Run(ctx); err != nil {
			r.log.Error("tlsrpt collector", "err", err)
		}
	})
	wg.Go(func() { r.obs.Run(ctx) })
	wg.Go(func() { r.rep.Run(ctx) })
	return func() {
		cancel()
		wg.Wait()
		if err := r.st.Close(); err != nil {
			r.log.Error("closing the tlsrpt store", "err", err)
		}
	}, nil
}
