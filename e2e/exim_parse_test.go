package e2e

import (
	"strings"
	"testing"
)

// Scenario 10's assertions rest on reading Exim's mainlog; the parser is checked on its
// own, on lines Exim 4.96 logged in a run of the suite.
func TestParseEximAttempt(t *testing.T) {
	log := `2026-12-01 08:25:19 1xYJAs-0002p4-2s <= e2e@sender.e2e.test U=root P=local S=466 id=mta2@exim.e2e.test
2026-12-01 08:25:19 1xYJAs-0002p4-2s H=mx.enforce.sts.test [127.0.2.1]: a TLS session is required, but the server did not offer TLS support
2026-12-01 08:25:19 1xYJAs-0002p4-2s == user@enforce.sts.test R=mailtls_sts T=mailtls_smtp_sts defer (-38) H=mx.enforce.sts.test [127.0.2.1]: a TLS session is required, but the server did not offer TLS support
2026-12-01 08:25:19 1xYJAs-0002p4-2s => user@enforce.sts.test R=mailtls_sts T=mailtls_smtp_sts H=mx.enforce.sts.test [127.0.2.1] X=TLS1.3:ECDHE_SECP256R1__ECDSA_SECP256R1_SHA256__AES_256_GCM:256 CV=yes DN="CN=mx.good.dane.test" K C="250 2.0.0 Ok: 479 bytes queued as 4B8DD98609D"
2026-12-01 08:25:20 1xYJAu-0002rB-04 => user@good.dane.test R=mailtls_dane T=mailtls_smtp_dane_only H=mx.good.dane.test [127.0.1.1] X=TLS1.3:ECDHE_SECP256R1__ECDSA_SECP256R1_SHA256__AES_256_GCM:256 CV=dane DN="CN=mx.good.dane.test" K C="250 2.0.0 Ok: 479 bytes queued as 2CF8C9860AC"
2026-12-01 08:25:20 1xYJAu-0002sk-2q == user@down.sts.test R=mailtls_defer defer (-1): mailtls: TEMP mailtls_unreachable
2026-12-01 08:25:21 1xYJAu-0002sk-2x => user@plain.test R=dnslookup T=remote_smtp H=mx.plain.test [127.0.2.4] C="250 2.0.0 Ok: queued as 1"
2026-12-01 08:25:21 1xYJAu-0002sk-2y => user@unverified.test R=dnslookup T=remote_smtp H=mx.unverified.test [127.0.2.4] X=TLS1.3:ECDHE_SECP256R1__ECDSA_SECP256R1_SHA256__AES_256_GCM:256 CV=no C="250 2.0.0 Ok: queued as 2"
`
	tests := []struct {
		name, id       string
		delivered, tls bool
		verified, host string
		reason         string
		lines          int // lines of the message up to and with the attempt
	}{
		{"the first attempt of a message: the deferral, with its reason", "1xYJAs-0002p4-2s", false, false, "", "mx.enforce.sts.test",
			"user@enforce.sts.test R=mailtls_sts T=mailtls_smtp_sts defer (-38) H=mx.enforce.sts.test [127.0.2.1]: a TLS session is required, but the server did not offer TLS support", 3},
		{"DANE-verified delivery", "1xYJAu-0002rB-04", true, true, "dane", "mx.good.dane.test", "", 1},
		{"deferral before any host", "1xYJAu-0002sk-2q", false, false, "", "", "user@down.sts.test R=mailtls_defer defer (-1): mailtls: TEMP mailtls_unreachable", 1},
		{"plaintext delivery", "1xYJAu-0002sk-2x", true, false, "", "mx.plain.test", "", 1},
		{"TLS without verification", "1xYJAu-0002sk-2y", true, true, "", "mx.unverified.test", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := parseEximAttempt(log, tt.id)
			if !ok {
				t.Fatalf("no attempt of %s", tt.id)
			}
			if a.delivered != tt.delivered || a.tls != tt.tls || a.verified != tt.verified || a.host != tt.host || a.reason != tt.reason {
				t.Errorf("got %+v", a)
			}
			if len(a.lines) != tt.lines {
				t.Errorf("%d lines of the message up to the attempt, want %d:\n%s", len(a.lines), tt.lines, a)
			}
		})
	}
	// The later delivery of the first message is found from a mark after the deferral.
	if a, ok := parseEximAttempt(log[strings.Index(log, "2026-12-01 08:25:19 1xYJAs-0002p4-2s => "):], "1xYJAs-0002p4-2s"); !ok || !a.delivered || a.verified != "ca" || a.addr != "127.0.2.1" {
		t.Errorf("delivery after the mark: %+v, %v", a, ok)
	}
	if _, ok := parseEximAttempt(log, "1xYJAs-0000000-00"); ok {
		t.Error("attempt found for an id that is not in the log")
	}
}
