// Command mailtls is the SMTP TLS policy engine: it decides, for each recipient domain,
// whether mail must go over verified TLS (DANE, MTA-STS, operator overrides) and answers
// Postfix over the socketmap protocol.
//
//	mailtls serve [-config FILE]          run the daemon
//	mailtls query DOMAIN [flags]          resolve one next-hop and explain the answer
//	mailtls cache list|show|purge         inspect or clear the policy cache
//	mailtls config check|path|default     validate a configuration, say which is used, print the default
//	mailtls bench load|null               load-test socketmap servers (BENCHMARKS.md)
//	mailtls hosting records|check         DNS records and live self-check of hosted MTA-STS domains
//	mailtls tlsrpt pending|sent|show ID   TLS reports (RFC 8460) to send, sent, and their JSON
//	mailtls tlsrpt ingest|summary         TLS reports others send you: take one by mail, summarise
//	mailtls version
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailtls/mailtls/internal/buildinfo"
)

const usage = `mailtls — SMTP TLS policy engine (DANE, MTA-STS) for Postfix

Usage:
  mailtls serve [-config FILE]               run the daemon
  mailtls query DOMAIN [-profile P] [-json] [-local] [-config FILE]
                                             resolve one next-hop and explain the answer
  mailtls cache list [FILTER] [-json]        list cached domains
  mailtls cache show DOMAIN                  show one domain's cached state
  mailtls cache purge DOMAIN | -all          forget a domain (or everything)
  mailtls config check [FILE | -]            validate a configuration (- reads standard input)
  mailtls config path                        print which configuration file is used, and why
  mailtls config default                     print the embedded default configuration
  mailtls bench load|null [flags]            load-test socketmap servers against the null server
  mailtls hosting records [DOMAIN…]          DNS records to publish for hosted MTA-STS domains
  mailtls hosting check [DOMAIN…] [-json] [-cert-warn D]
                                             check hosted domains as a sender would (exit 1 on a problem)
  mailtls tlsrpt pending|sent [-json]        TLS reports (RFC 8460) to be sent / sent or given up, and where
  mailtls tlsrpt show REPORT-ID              print one report's JSON
  mailtls tlsrpt ingest < MESSAGE            store a mailed TLS report (DKIM-verified; sysexits codes)
  mailtls tlsrpt summary [DOMAIN] [-since 30d] [-json]
                                             received TLS reports per day, domain and reporter
  mailtls version                            print the version, commit and Go version

Configuration: -config FILE, else $MAILTLS_CONFIG, else /etc/mailtls/mailtls.yaml if it
exists, else the embedded default; -v makes a command say which file it used.
Run "mailtls COMMAND -h" for the flags of a command.
`

func main() {
	os.Exit(runIn(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status: 0 success, 1 failure,
// 2 usage error.
func run(args []string, stdout, stderr io.Writer) int {
	return runIn(args, strings.NewReader(""), stdout, stderr)
}

// runIn is run with a standard input (config check -).
func runIn(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest, stderr)
	case "query":
		return cmdQuery(rest, stdout, stderr)
	case "cache":
		return cmdCache(rest, stdout, stderr)
	case "config":
		return cmdConfig(rest, stdout, stderr, stdin)
	case "bench":
		return cmdBench(rest, stdout, stderr)
	case "hosting":
		return cmdHosting(rest, stdout, stderr)
	case "tlsrpt":
		if len(rest) > 0 && rest[0] == "ingest" {
			return cmdTLSRPTIngest(rest[1:], stdin, stdout, stderr)
		}
		if len(rest) > 0 && rest[0] == "summary" {
			return cmdTLSRPTSummary(rest[1:], stdout, stderr)
		}
		return cmdTLSRPT(rest, stdout, stderr)
	case "version":
		if len(rest) > 0 && rest[0] != "-h" && rest[0] != "-help" && rest[0] != "--help" {
			fmt.Fprint(stderr, "Usage: mailtls version\n")
			return 2
		}
		if len(rest) > 0 {
			fmt.Fprint(stdout, "Usage: mailtls version\n\nPrints the version, the commit it was built from, its date and the Go version.\n")
			return 0
		}
		fmt.Fprintln(stdout, buildinfo.Get())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "mailtls: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// parseInterspersed parses flags that may come before or after positional arguments
// ("mailtls query example.com -json") and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlagSet returns a flag set whose -h output names the command and its synopsis.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mailtls %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
