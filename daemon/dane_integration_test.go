package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/dnslab"
	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/policy"
)

const tlsaData = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Issue 3: the DANE stage against real Unbound validating zones that Knot DNS signs. A
// dane-only domain, a mixed domain, a domain whose TLSA RRset is bogus (Unbound answers
// SERVFAIL) and an unsigned domain that falls through to MTA-STS.
func TestDANEWithUnbound(t *testing.T) {
	hosts := lab.NewHosts(t)
	dl := dnslab.Start(t,
		dnslab.Zone{Name: "lab.test", Signed: true, Anchor: true, Lines: []string{
			"ok A 127.0.0.1",
			// dane-only: the single MX host has a usable TLSA RRset. It also publishes
			// MTA-STS, which must not override DANE.
			"daneonly MX 10 mx.daneonly",
			"mx.daneonly A 127.0.0.10",
			"_25._tcp.mx.daneonly TLSA 3 1 1 " + tlsaData,
			"_mta-sts.daneonly TXT \"v=STSv1; id=1;\"",
			"mta-sts.daneonly A " + hosts.IP,
			// mixed: one host with TLSA, one proven without.
			"mixed MX 10 mx1.mixed",
			"mixed MX 20 mx2.mixed",
			"mx1.mixed A 127.0.0.11",
			"mx2.mixed A 127.0.0.12",
			"_25._tcp.mx1.mixed TLSA 2 0 1 " + tlsaData,
			// broken: the TLSA owner is a delegated zone whose DS does not match its key.
			"bad MX 10 mx.bad",
			"mx.bad A 127.0.0.13",
			"_25._tcp.mx.bad NS ns.lab.test.",
			"_25._tcp.mx.bad DS 12345 13 2 " + tlsaData,
			// a secure domain without any TLSA: no DANE, so MTA-STS decides.
			"notlsa MX 10 mx.notlsa",
			"mx.notlsa A 127.0.0.14",
		}},
		dnslab.Zone{Name: "_25._tcp.mx.bad.lab.test", Signed: true, Lines: []string{"@ TLSA 3 1 1 " + tlsaData}},
		dnslab.Zone{Name: "plain.test", Anchor: true, Lines: []string{
			"@ MX 10 mx",
			"mx A 127.0.0.15",
			"_25._tcp.mx TLSA 3 1 1 " + tlsaData, // insecure: must be ignored
			"_mta-sts TXT \"v=STSv1; id=1;\"",
			"mta-sts A " + hosts.IP,
		}},
	)
	hosts.SetPolicy("daneonly.lab.test", lab.Policy("enforce", 86400, "mx.daneonly.lab.test"))
	hosts.SetPolicy("plain.test", lab.Policy("enforce", 86400, "mx.plain.test"))

	cfg, err := config.Parse([]byte(fmt.Sprintf(`
state_dir: %s
resolver: {servers: ["%s"], timeout: 2s}
dane: {check_signed: "ok.lab.test.", check_bogus: "_25._tcp.mx.bad.lab.test."}
mta_sts: {ca_file: %s, fetch_timeout: 5s, allow_addresses: ["127.0.0.0/8"]}
cache: {store: none}
profiles:
  strict: {dane_lookup_failure: temp}
`, t.TempDir(), dl.Resolver, hosts.CAFile)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Build(cfg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	if parts.DANEError != nil || !parts.Engine.DANEEnabled() {
		t.Fatalf("Unbound failed the validation check: %v", parts.DANEError)
	}
	tests := []struct {
		profile, domain, want string
		source                policy.Source
	}{
		{"postfix", "daneonly.lab.test", "OK dane-only", policy.SourceDANE},
		{"postfix", "mixed.lab.test", "OK dane", policy.SourceDANE},
		{"postfix", "bad.lab.test", "OK dane", policy.SourceDANE},
		{"strict", "bad.lab.test", "TEMP", policy.SourceDANE},
		{"postfix", "notlsa.lab.test", "NOTFOUND ", policy.SourceDefault},
		{"postfix", "plain.test", "OK secure match=mx.plain.test servername=hostname", policy.SourceMTASTS},
		{"postfix", "nxdomain.lab.test", "NOTFOUND ", policy.SourceDANE},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.domain, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d := parts.Engine.Resolve(ctx, parts.Profiles[tt.profile], tt.domain)
			got := d.PostfixReply()
			if tt.want == "TEMP" {
				if d.Result != policy.Temp {
					t.Errorf("got %q, want TEMP", got)
				}
			} else if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if d.Source != tt.source {
				t.Errorf("source %s, want %s", d.Source, tt.source)
			}
			if tt.domain == "daneonly.lab.test" {
				// mailtls query --explain: the DANE reasoning per MX host, with addresses,
				// their DNSSEC state and the TLSA records judged usable or not.
				all := strings.Join(d.Reasons(), "\n")
				for _, want := range []string{"mx.daneonly.lab.test", "127.0.0.10", "secure", "3 1 1", "usable", "DANE takes precedence"} {
					if !strings.Contains(all, want) {
						t.Errorf("explanation lacks %q:\n%s", want, all)
					}
				}
			}
			if t.Failed() || testing.Verbose() {
				for _, r := range d.Reasons() {
					t.Log(r)
				}
			}
		})
	}
}

// A resolver that does not validate fails the start-up check: DANE is off, and a profile
// with dane: required refuses to start.
func TestValidationCheckFails(t *testing.T) {
	dl := dnslab.Start(t, dnslab.Zone{Name: "plain.test", Anchor: true, Lines: []string{"www A 127.0.0.1"}})
	base := fmt.Sprintf(`
state_dir: %s
resolver: {servers: ["%s"], timeout: 1s}
dane: {check_signed: "www.plain.test.", check_bogus: "www.plain.test."}
cache: {store: none}
`, t.TempDir(), dl.Resolver)
	cfg, err := config.Parse([]byte(base), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Build(cfg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	if parts.DANEError == nil || parts.Engine.DANEEnabled() {
		t.Error("an unsigned name passed the validation check")
	}
	cfg, err = config.Parse([]byte(base+"profiles:\n  postfix: {dane: required}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfg, slog.New(slog.DiscardHandler), false); err == nil {
		t.Error("dane: required started without a validating resolver")
	}
}
