// Command netprobe lets the end-to-end suite look inside its network namespace, where
// the test process itself cannot connect: it waits for a TCP listener, or asks a DNS
// server one question and prints the answer as JSON.
//
//	netprobe tcp 127.0.0.1:8461 10s
//	netprobe dns 127.0.0.1:53 example.test. A
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/miekg/dns"
)

// Answer is what "netprobe dns" prints.
type Answer struct {
	Rcode  string   `json:"rcode"`
	AD     bool     `json:"ad"`
	Answer []string `json:"answer"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "netprobe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "tcp":
		wait, err := time.ParseDuration(args[2])
		if err != nil {
			return err
		}
		return waitTCP(args[1], wait)
	case len(args) == 4 && args[0] == "dns":
		return query(args[1], args[2], args[3])
	}
	return fmt.Errorf("usage: netprobe tcp ADDR WAIT | netprobe dns SERVER NAME TYPE")
}

func waitTCP(addr string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func query(server, name, qtype string) error {
	t, ok := dns.StringToType[qtype]
	if !ok {
		return fmt.Errorf("unknown type %q", qtype)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.SetEdns0(1232, true)
	m.AuthenticatedData = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).ExchangeContext(ctx, m, server)
	if err != nil {
		return err
	}
	a := Answer{Rcode: dns.RcodeToString[r.Rcode], AD: r.AuthenticatedData}
	for _, rr := range r.Answer {
		a.Answer = append(a.Answer, rr.String())
	}
	return json.NewEncoder(os.Stdout).Encode(a)
}
