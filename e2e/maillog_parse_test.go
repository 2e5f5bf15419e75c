package e2e

import "testing"

// The assertions of every scenario rest on matching a status line to the TLS line the
// same smtp(8) process logged before it, so the parser is checked on its own.
func TestParseAttempts(t *testing.T) {
	log := `Nov 23 10:00:00 h postfix-e2e-sender/smtp[100]: Verified TLS connection established to mx.a.test[127.0.2.1]:25: TLSv1.3 with cipher X
Nov 23 10:00:00 h postfix-e2e-sender/smtp[200]: AAA1: to=<u@b.test>, relay=mx.b.test[127.0.2.4]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as X)
Nov 23 10:00:00 h postfix-e2e-sender/smtp[100]: BBB2: to=<u@a.test>, relay=mx.a.test[127.0.2.1]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as Y)
Nov 23 10:00:01 h postfix-e2e-sender/smtp[100]: CCC3: to=<u@a.test>, relay=mx.a.test[127.0.2.1]:25, delay=0.1, delays=0/0/0/0, dsn=4.7.4, status=deferred (TLS is required, but was not offered by host mx.a.test[127.0.2.1])
`
	tests := []struct {
		name, id, status, tls, reason string
	}{
		{"TLS line of the same process is attached", "BBB2", "sent", "Verified TLS connection established to mx.a.test[127.0.2.1]:25: TLSv1.3 with cipher X", "250 2.0.0 Ok: queued as Y"},
		{"another process's TLS line is not", "AAA1", "sent", "", "250 2.0.0 Ok: queued as X"},
		{"a TLS line before the process's previous delivery is not", "CCC3", "deferred", "", "TLS is required, but was not offered by host mx.a.test[127.0.2.1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := parseAttempts(log, tt.id)
			if len(as) != 1 {
				t.Fatalf("got %d attempts", len(as))
			}
			if a := as[0]; a.Status != tt.status || a.TLS != tt.tls || a.Reason != tt.reason {
				t.Errorf("got %+v", a)
			}
		})
	}
}
