package socketmap

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestNetstringRoundTrip: AppendNetstring and Reader.Next are inverses (netstrings.txt).
func TestNetstringRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		wire    string
	}{
		{"empty string is 0:, (netstrings.txt)", "", "0:,"},
		{"socketmap request name<SPACE>key (socketmap_table(5))", "sts example.com", "15:sts example.com,"},
		{"reply with trailing space, NOTFOUND (socketmap_table(5))", "NOTFOUND ", "9:NOTFOUND ,"},
		{"payload containing framing bytes", "1:,2:,", "6:1:,2:,,"},
		{"binary payload", "\x00\xff\n\r", "4:\x00\xff\n\r,"},
		{"payload of exactly 10 bytes (two length digits)", "0123456789", "10:0123456789,"},
		{"payload at Postfix's request limit", strings.Repeat("k", DefaultMaxRequest), "10000:" + strings.Repeat("k", DefaultMaxRequest) + ","},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendNetstring([]byte("prefix"), []byte(tc.payload))
			if want := "prefix" + tc.wire; string(got) != want {
				t.Fatalf("AppendNetstring = %.40q…, want %.40q…", got, want)
			}
			r := NewReader(strings.NewReader(tc.wire+tc.wire), DefaultMaxRequest)
			for i := range 2 {
				p, err := r.Next()
				if err != nil || string(p) != tc.payload {
					t.Fatalf("Next #%d = %.40q, %v; want %.40q", i, p, err, tc.payload)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next at the end = %v, want io.EOF (clean boundary)", err)
			}
		})
	}
}

// countingReader counts how many bytes the Reader pulled from the connection.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestNetstringMalformed: every framing error of netstrings.txt is reported with the right
// sentinel, and a hostile length is rejected from its digits, before any payload is read.
func TestNetstringMalformed(t *testing.T) {
	cases := []struct {
		name  string
		input string
		max   int
		want  error
	}{
		{"non-digit length", "abc:xyz,", 100, ErrMalformed},
		{"sign in length", "+3:abc,", 100, ErrMalformed},
		{"negative length", "-3:abc,", 100, ErrMalformed},
		{"whitespace before length", " 3:abc,", 100, ErrMalformed},
		{"leading zero prohibited (netstrings.txt)", "03:abc,", 100, ErrMalformed},
		{"double zero prohibited (netstrings.txt: 00:, is illegal)", "00:,", 100, ErrMalformed},
		{"empty length", ":abc,", 100, ErrMalformed},
		{"missing colon", "3abc,", 100, ErrMalformed},
		{"missing comma", "3:abcd", 100, ErrMalformed},
		{"length shorter than payload", "2:abc,", 100, ErrMalformed},
		{"length over max", "101:" + strings.Repeat("a", 101) + ",", 100, ErrTooLong},
		{"length over Postfix's request limit", "10001:", DefaultMaxRequest, ErrTooLong},
		{"huge length digits do not overflow", "99999999999999999999:", DefaultMaxRequest, ErrTooLong},
		{"huge length digits without colon", strings.Repeat("9", 100000), DefaultMaxRequest, ErrTooLong},
		{"max 0 accepts nothing but the empty string", "1:a,", 0, ErrTooLong},
		{"EOF at a clean boundary", "", 100, io.EOF},
		{"EOF inside the length", "12", 100, io.ErrUnexpectedEOF},
		{"EOF after the colon", "3:", 100, io.ErrUnexpectedEOF},
		{"EOF mid-payload", "5:ab", 100, io.ErrUnexpectedEOF},
		{"EOF before the comma", "3:abc", 100, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := &countingReader{r: strings.NewReader(tc.input)}
			p, err := NewReader(cr, tc.max).Next()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next = %q, %v; want error %v", p, err, tc.want)
			}
			if p != nil {
				t.Errorf("payload %q returned with error", p)
			}
			if cr.n > readerBufSize {
				t.Errorf("read %d bytes to reject the input; want at most one buffer (%d)", cr.n, readerBufSize)
			}
		})
	}
}

// TestNetstringMaxBoundary: a payload of exactly max bytes is accepted, one more is not.
func TestNetstringMaxBoundary(t *testing.T) {
	if p, err := NewReader(strings.NewReader("5:hello,"), 5).Next(); err != nil || string(p) != "hello" {
		t.Fatalf("at max: %q, %v", p, err)
	}
	if _, err := NewReader(strings.NewReader("6:hello!,"), 5).Next(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("over max: %v, want ErrTooLong", err)
	}
}

// TestReaderBuffered: Buffered reports pipelined input not yet consumed.
func TestReaderBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("1:a,2:bc,"), 10)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if got := r.Buffered(); got != len("2:bc,") {
		t.Fatalf("Buffered = %d, want %d", got, len("2:bc,"))
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if got := r.Buffered(); got != 0 {
		t.Fatalf("Buffered at end = %d, want 0", got)
	}
}

// TestReaderCompleteBuffered: the server flushes replies unless a whole request is waiting.
func TestReaderCompleteBuffered(t *testing.T) {
	cases := []struct {
		name, buffered string
		want           bool
	}{
		{"nothing buffered", "", false},
		{"length only", "12", false},
		{"partial payload", "5:ab", false},
		{"payload without comma", "5:abcde", false},
		{"complete netstring", "5:abcde,", true},
		{"complete then partial", "1:a,3:", true},
		{"malformed fails without input", "x", true},
		{"too long fails without input", "99999", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.buffered), 100)
			_, _ = r.br.Peek(len(tc.buffered)) // fill the buffer as a network read would
			if got := r.CompleteBuffered(); got != tc.want {
				t.Fatalf("CompleteBuffered(%q) = %v, want %v", tc.buffered, got, tc.want)
			}
		})
	}
}

// TestAppendNetstringNoAlloc: encoding into a buffer with room does not allocate.
func TestAppendNetstringNoAlloc(t *testing.T) {
	dst := make([]byte, 0, 64)
	payload := []byte("OK secure match=.example.com")
	allocs := testing.AllocsPerRun(100, func() { dst = AppendNetstring(dst[:0], payload) })
	if allocs != 0 {
		t.Fatalf("AppendNetstring allocated %.1f times per call, want 0", allocs)
	}
	if !bytes.Equal(dst, []byte("28:OK secure match=.example.com,")) {
		t.Fatalf("got %q", dst)
	}
}
