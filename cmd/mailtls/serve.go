package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/daemon"
)

func cmdServe(args []string, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve [-config FILE] [-v]", stderr)
	cf := addConfigFlags(fs)
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagExit(err)
	}
	cfg, loc, err := cf.load(stderr)
	if err == nil {
		err = cfg.CheckFiles()
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailtls: configuration %s:\n%v\n", loc, err)
		return 1
	}
	log := daemon.NewLogger(cfg.Log)
	d, err := daemon.New(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP: reload the configuration file (and reopen the audit log). A configuration
	// with errors is refused and the running one stays.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				next, err := config.Load(loc.Path)
				if err == nil {
					err = d.Reload(next)
				}
				if err != nil {
					log.Error("reload refused; the running configuration stays", "err", err)
				}
			}
		}
	}()
	if err := d.Run(ctx); err != nil {
		log.Error("daemon failed", "err", err)
		return 1
	}
	return 0
}
