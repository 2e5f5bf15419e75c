package socketmap

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader: arbitrary input never panics the Reader, never yields a payload over the
// limit, and the payloads it returns re-encode to exactly the input consumed so far.
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
