package dnsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// Errors from CheckValidation.
var (
	// ErrNotValidated: the signed name came back without the AD bit.
	ErrNotValidated = errors.New("resolver did not validate a signed name (AD=0)")
	// ErrBogusAccepted: the deliberately broken name was answered instead of SERVFAIL.
	ErrBogusAccepted = errors.New("resolver answered a bogus name instead of SERVFAIL")
)

// CheckValidation verifies that the configured resolvers validate DNSSEC, which DANE
// requires (RFC 7672 §2.1): the A lookup of signedName must be answered with AD=1 (a
// secure NODATA or NXDOMAIN also counts), and the A lookup of bogusName, a name whose
// signatures are broken, must fail with SERVFAIL (RFC 4035 §5.5). The error says which
// check failed; it matches ErrNotValidated or ErrBogusAccepted when the resolver
// answered wrongly, or wraps the lookup error when a check could not be made.
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
	case err == nil:
		return fmt.Errorf("dnsclient: validation check, bogus name %s (server %s): %w",
			bogusName, res.Server, ErrBogusAccepted)
	case !errors.Is(err, ErrServFail):
		return fmt.Errorf("dnsclient: validation check, bogus name %s: %w", bogusName, err)
	}
	return nil
}
