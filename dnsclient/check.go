package dnsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// Errors from CheckValidation. ErrNotValidated and ErrBogusAccepted are proof that the
// resolver does not validate; ErrBogusNameMissing, like a failed lookup, is not
// (NotValidating tells them apart).
var (
	// ErrNotValidated: the signed name came back without the AD bit.
	ErrNotValidated = errors.New("resolver did not validate a signed name (AD=0)")
	// ErrBogusAccepted: the deliberately broken name was answered with data instead of
	// SERVFAIL.
	ErrBogusAccepted = errors.New("resolver answered a bogus name instead of SERVFAIL")
	// ErrBogusNameMissing: the deliberately broken name does not exist (NXDOMAIN or no
	// data). That proves nothing about the resolver (the zone may have been repaired or
	// removed), so the check is inconclusive; dane.check_bogus needs another name.
	ErrBogusNameMissing = errors.New("the bogus name does not exist (NXDOMAIN or no data): it no longer tests validation")
)

// CheckValidation verifies that the configured resolvers validate DNSSEC, which DANE
// requires (RFC 7672 §2.1): the A lookup of signedName must be answered with AD=1 (a
// secure NODATA or NXDOMAIN also counts), and the A lookup of bogusName, a name whose
// signatures are broken, must fail with SERVFAIL (RFC 4035 §5.5). The error says which
// check failed. It matches ErrNotValidated or ErrBogusAccepted when the resolver answered
// in a way only a non-validating resolver does (NotValidating reports true); any other
// error — a lookup that timed out, was refused or failed, or ErrBogusNameMissing — means
// the check could not be made and says nothing either way.
func (c *Client) CheckValidation(ctx context.Context, signedName, bogusName string) error {
	res, err := c.Lookup(ctx, signedName, dns.TypeA)
	if err != nil {
		return fmt.Errorf("dnsclient: validation check, signed name %s: %w", signedName, err)
	}
	if !res.Secure {
		return fmt.Errorf("dnsclient: validation check, signed name %s (server %s): %w",
			signedName, res.Server, ErrNotValidated)
	}
	res, err = c.Lookup(ctx, bogusName, dns.TypeA)
	switch {
	case err == nil && len(res.Records) > 0:
		return fmt.Errorf("dnsclient: validation check, bogus name %s (server %s): %w",
			bogusName, res.Server, ErrBogusAccepted)
	case err == nil:
		return fmt.Errorf("dnsclient: validation check, bogus name %s (server %s, %s): %w",
			bogusName, res.Server, dns.RcodeToString[res.Rcode], ErrBogusNameMissing)
	case !errors.Is(err, ErrServFail):
		return fmt.Errorf("dnsclient: validation check, bogus name %s: %w", bogusName, err)
	}
	return nil
}

// NotValidating reports whether err, from CheckValidation, proves that the resolver does
// not validate DNSSEC (ErrNotValidated, ErrBogusAccepted), as opposed to a check that
// could not be made (timeouts, network errors, REFUSED, SERVFAIL on the signed name, a
// bogus name that no longer exists), which proves nothing.
func NotValidating(err error) bool {
	return errors.Is(err, ErrNotValidated) || errors.Is(err, ErrBogusAccepted)
}
