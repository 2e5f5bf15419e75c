package dnsclient

import (
	"context"
	"errors"
	"testing"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// TestCheckValidation checks the start-up probe for RFC 7672 §2.1: the resolver must
// validate, i.e. set AD on signed data and SERVFAIL on bogus data.
func TestCheckValidation(t *testing.T) {
	tests := []struct {
		rule       string
		signedMode dnstest.Mode
		bogusMode  dnstest.Mode
		wantErr    error
	}{
		{"validating resolver: AD on signed, SERVFAIL on bogus", dnstest.Secure, dnstest.Bogus, nil},
		{"AD missing on the signed name → ErrNotValidated", dnstest.Insecure, dnstest.Bogus, ErrNotValidated},
		{"bogus name answered (insecure) → ErrBogusAccepted", dnstest.Secure, dnstest.Insecure, ErrBogusAccepted},
		{"bogus name answered with AD → ErrBogusAccepted", dnstest.Secure, dnstest.Secure, ErrBogusAccepted},
		{"signed name refused → the lookup error", dnstest.Refused, dnstest.Bogus, ErrRefused},
		{"bogus probe timed out → inconclusive, ErrTimeout", dnstest.Secure, dnstest.Timeout, ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			s := dnstest.New(t)
			s.Add("signed.example. 300 IN A 192.0.2.1", "broken.example. 300 IN A 192.0.2.2")
			s.SetMode("signed.example.", 0, tc.signedMode)
			s.SetMode("broken.example.", 0, tc.bogusMode)
			err := newClient(t, s).CheckValidation(context.Background(), "signed.example", "broken.example")
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, other := range []error{ErrNotValidated, ErrBogusAccepted} {
				if other != tc.wantErr && errors.Is(err, other) {
					t.Fatalf("err = %v also matches %v", err, other)
				}
			}
		})
	}
}
