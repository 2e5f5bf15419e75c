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
		proof      bool // the error proves the resolver does not validate (NotValidating)
	}{
		{"validating resolver: AD on signed, SERVFAIL on bogus", dnstest.Secure, dnstest.Bogus, nil, false},
		{"AD missing on the signed name → ErrNotValidated (proof)", dnstest.Insecure, dnstest.Bogus, ErrNotValidated, true},
		{"bogus name answered (insecure) → ErrBogusAccepted (proof)", dnstest.Secure, dnstest.Insecure, ErrBogusAccepted, true},
		{"bogus name answered with AD → ErrBogusAccepted (proof)", dnstest.Secure, dnstest.Secure, ErrBogusAccepted, true},
		{"signed name refused → the lookup error, inconclusive", dnstest.Refused, dnstest.Bogus, ErrRefused, false},
		{"signed name timed out → inconclusive", dnstest.Timeout, dnstest.Bogus, ErrTimeout, false},
		{"signed name SERVFAIL → inconclusive", dnstest.Bogus, dnstest.Bogus, ErrServFail, false},
		{"bogus probe timed out → inconclusive, ErrTimeout", dnstest.Secure, dnstest.Timeout, ErrTimeout, false},
		{"bogus probe refused → inconclusive, ErrRefused", dnstest.Secure, dnstest.Refused, ErrRefused, false},
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
			if got := NotValidating(err); got != tc.proof {
				t.Fatalf("NotValidating(%v) = %v, want %v", err, got, tc.proof)
			}
			for _, other := range []error{ErrNotValidated, ErrBogusAccepted} {
				if other != tc.wantErr && errors.Is(err, other) {
					t.Fatalf("err = %v also matches %v", err, other)
				}
			}
		})
	}
}

// Issue 11: a bogus name that stops existing (its zone repaired or removed: NXDOMAIN,
// secure or not) proves nothing about the resolver, so it must not switch DANE off.
func TestCheckValidationBogusNameGone(t *testing.T) {
	for _, mode := range []dnstest.Mode{dnstest.Secure, dnstest.Insecure} {
		s := dnstest.New(t)
		s.Add("signed.example. 300 IN A 192.0.2.1", "other.example. 300 IN A 192.0.2.3")
		s.SetMode("broken.example.", 0, mode)
		err := newClient(t, s).CheckValidation(context.Background(), "signed.example", "broken.example")
		if !errors.Is(err, ErrBogusNameMissing) || NotValidating(err) {
			t.Fatalf("mode %v: err = %v, want ErrBogusNameMissing and inconclusive", mode, err)
		}
	}
}
