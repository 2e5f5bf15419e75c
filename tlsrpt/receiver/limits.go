package receiver

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// Limits bound what one report may cost. Zero fields take the defaults.
type Limits struct {
	MaxCompressed   int64 // bytes of the body as sent (gzip or JSON); default 1 MiB
	MaxDecompressed int64 // bytes of JSON after gunzip; default 8 MiB
	MaxDepth        int   // JSON nesting; default 16 (a report needs 5)
	MaxPolicies     int   // policies[] entries; default 1000
	MaxDetails      int   // failure-details[] entries per policy; default 1000
	MaxStrings      int   // policy-string / mx-host entries per policy; default 1000
}

// DefaultLimits are the limits used for zero fields.
var defaultLimits = Limits{MaxCompressed: 1 << 20, MaxDecompressed: 8 << 20, MaxDepth: 16,
	MaxPolicies: 1000, MaxDetails: 1000, MaxStrings: 1000}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits { return defaultLimits }

func (l Limits) withDefaults() Limits {
	d := defaultLimits
	if l.MaxCompressed > 0 {
		d.MaxCompressed = l.MaxCompressed
	}
	if l.MaxDecompressed > 0 {
		d.MaxDecompressed = l.MaxDecompressed
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxPolicies > 0 {
		d.MaxPolicies = l.MaxPolicies
	}
	if l.MaxDetails > 0 {
		d.MaxDetails = l.MaxDetails
	}
	if l.MaxStrings > 0 {
		d.MaxStrings = l.MaxStrings
	}
	return d
}

// Errors a caller maps to answers (HTTP 413/400, sysexits EX_DATAERR).
var (
	ErrTooLarge  = errors.New("report too large")
	ErrMalformed = errors.New("malformed report")
)

// ReadBody reads a report body as sent: gzip when gz, JSON otherwise. At most
// MaxCompressed+1 bytes are read from r and at most MaxDecompressed+1 bytes are
// inflated, so a gzip bomb costs no more than the limits (it is refused as soon as the
// inflated output passes MaxDecompressed). It returns the JSON.
func ReadBody(r io.Reader, gz bool, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	in := io.LimitReader(r, lim.MaxCompressed+1)
	if !gz {
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > lim.MaxCompressed {
			return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, lim.MaxCompressed)
		}
		if int64(len(b)) > lim.MaxDecompressed {
			return nil, fmt.Errorf("%w: JSON over %d bytes", ErrTooLarge, lim.MaxDecompressed)
		}
		return b, nil
	}
	cr := &countingReader{r: in}
	zr, err := gzip.NewReader(cr)
	if err != nil {
		if cr.n > lim.MaxCompressed {
			return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, lim.MaxCompressed)
		}
		return nil, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	zr.Multistream(false)
	b, err := io.ReadAll(io.LimitReader(zr, lim.MaxDecompressed+1))
	switch {
	case cr.n > lim.MaxCompressed:
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, lim.MaxCompressed)
	case int64(len(b)) > lim.MaxDecompressed:
		return nil, fmt.Errorf("%w: inflates past %d bytes (gzip bomb?)", ErrTooLarge, lim.MaxDecompressed)
	case err != nil:
		return nil, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	return b, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
