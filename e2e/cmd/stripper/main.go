// Command stripper is the end-to-end suite's on-path attacker: an SMTP proxy placed in
// front of a receiving MTA. In mode strip it removes STARTTLS from the EHLO reply and
// refuses a STARTTLS command, so a sender that does not insist on TLS (RFC 3207 §4: the
// client decides what to do when STARTTLS is missing) continues in plaintext. In mode
// wrongcert it answers STARTTLS itself with a certificate for a name other than the MX
// host's and relays in plaintext to the receiver. Mode relay is the honest path: bytes are
// copied unchanged, so the sender talks TLS end to end with the receiver.
//
//	stripper -listen 127.0.2.1:25 -upstream 127.0.1.1:25 -mode strip
//	stripper -listen 127.0.2.2:25 -upstream 127.0.1.1:25 -mode wrongcert -cert C -key K
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "", "address to accept SMTP connections on")
	upstream := flag.String("upstream", "", "address of the real receiver")
	mode := flag.String("mode", "strip", "relay, strip or wrongcert")
	certFile := flag.String("cert", "", "certificate (PEM) presented in mode wrongcert")
	keyFile := flag.String("key", "", "key (PEM) for -cert")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *upstream, *mode, *certFile, *keyFile, log); err != nil {
		fmt.Fprintln(os.Stderr, "stripper:", err)
		os.Exit(1)
	}
}

func run(listen, upstream, mode, certFile, keyFile string, log *slog.Logger) error {
	p := &proxy{upstream: upstream, log: log}
	switch mode {
	case "relay":
	case "strip":
		p.strip = true
	case "wrongcert":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("mode wrongcert: %w", err)
		}
		p.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	default:
		return fmt.Errorf("unknown mode %q (relay, strip, wrongcert)", mode)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	log.Info("listening", "addr", listen, "upstream", upstream, "mode", mode)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go p.serve(ctx, c)
	}
}
