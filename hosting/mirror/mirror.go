// Package mirror fetches an upstream MTA-STS policy for a hosted domain that takes its
// policy from elsewhere (the reverse-proxy role). It fetches exactly as a sender does,
// through mtasts.Fetcher (RFC 8461 §3.3: HTTPS with a valid certificate, status 200 only,
// no redirects, text/plain, size limit, a policy that parses), so a mirrored domain can
// never serve what a sender would have refused; a copy is good for its max_age only.
package mirror

import (
	"context"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// Fetcher fetches upstream policies.
type Fetcher struct {
	// STS fetches with a sender's rules; required.
	STS *mtasts.Fetcher
	// OnFailure, if set, is called with the RFC 8460 result type of each failed fetch.
	OnFailure func(result mtasts.ResultType)
}

// Copy is a valid upstream policy and when it stops being servable.
type Copy struct {
	Body    []byte
	Policy  *mtasts.Policy
	Fetched time.Time
	Expires time.Time // Fetched + max_age (RFC 8461 §3.2)
}

// Fetch retrieves the policy at url. Any failure is an *mtasts.FetchError.
func (f *Fetcher) Fetch(ctx context.Context, url string, now time.Time) (*Copy, error) {
	res, err := f.STS.FetchURL(ctx, url)
	if err != nil {
		if f.OnFailure != nil {
			t := mtasts.ResultFetchError
			if fe, ok := err.(*mtasts.FetchError); ok {
				t = fe.Type
			}
			f.OnFailure(t)
		}
		return nil, err
	}
	return &Copy{Body: res.Body, Policy: res.Policy, Fetched: now,
		Expires: now.Add(time.Duration(res.Policy.MaxAge) * time.Second)}, nil
}

// RefreshAfter is how long a copy with this max_age is served before the upstream is
// asked again: a tenth of max_age, between one minute and one hour, so an upstream
// change shows within the hour and a failing upstream is retried many times before the
// copy expires.
func RefreshAfter(maxAge uint32) time.Duration {
	return min(max(time.Duration(maxAge)*time.Second/10, time.Minute), time.Hour)
}
