package socketmap

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// FuzzReader: arbitrary input never panics the Reader, never yields a payload over the
// limit, and the payloads it returns re-encode to exactly the input consumed so far. Read
// whole (Next's fast path over buffered input) or a byte per read (its reading path), the
// same input yields the same payloads and the same error.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"", "0:,", "3:abc,", "15:sts example.com,3:abc,", "03:abc,", "3:abcd", "3abc,",
		"99999999999999999999:", "10001:", "5:ab", "1:a,2:bc,3:def,", ":,", "-1:,",
	} {
		f.Add([]byte(s), uint16(100))
	}
	f.Add([]byte("5:hello,"), uint16(5))
	f.Add([]byte("5:hello,"), uint16(4))
	f.Add([]byte("0:,"), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, max uint16) {
		whole, wholeErr := readAll(NewReader(bytes.NewReader(data), int(max)))
		bytewise, byteErr := readAll(NewReader(iotest.OneByteReader(bytes.NewReader(data)), int(max)))
		if !slices.Equal(whole, bytewise) || !errors.Is(wholeErr, byteErr) {
			t.Fatalf("%q: buffered %q, %v; byte by byte %q, %v", data, whole, wholeErr, bytewise, byteErr)
		}
		r := NewReader(bytes.NewReader(data), int(max))
		var re []byte
		for {
			p, err := r.Next()
			if err != nil {
				if errors.Is(err, io.EOF) && !bytes.Equal(re, data) {
					t.Fatalf("clean EOF but re-encoded %q != input %q", re, data)
				}
				return
			}
			if len(p) > int(max) {
				t.Fatalf("payload of %d bytes over max %d", len(p), max)
			}
			re = AppendNetstring(re, p)
			if !bytes.HasPrefix(data, re) {
				t.Fatalf("re-encoded %q is not a prefix of input %q", re, data)
			}
		}
	})
}

// readAll returns every payload of r and the error that ended them.
func readAll(r *Reader) ([]string, error) {
	var ps []string
	for {
		p, err := r.Next()
		if err != nil {
			return ps, err
		}
		ps = append(ps, string(p))
	}
}
