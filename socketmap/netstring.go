package socketmap

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strconv"
)

// Netstring framing errors returned by Reader.Next. After either one the stream cannot be
// resynchronised: the caller should answer (if it can) and close the connection.
var (
	// ErrTooLong reports a length prefix larger than the Reader's maximum. It is detected
	// from the digits alone, before any payload is read or buffer allocated.
	ErrTooLong = errors.New("socketmap: netstring longer than the limit")
	// ErrMalformed reports a broken netstring: an empty length, a non-digit in the length,
	// a leading zero, a missing ':' after the length, or a missing ',' after the payload.
	ErrMalformed = errors.New("socketmap: malformed netstring")
)

// readerBufSize is the bufio buffer behind a Reader: large enough that a typical Postfix
// request (well under 1 KiB) and a burst of pipelined ones arrive in one read.
const readerBufSize = 4096

// Reader decodes a stream of netstrings (https://cr.yp.to/proto/netstrings.txt):
// "<len>:<payload>," where <len> is the payload length in decimal ASCII.
//
// Decisions, following the netstring definition: the length must be non-empty and consist of
// ASCII digits only, and leading zeros are rejected ("0:," is the empty string, "00:," is
// illegal). No whitespace is tolerated anywhere in the framing. A Reader is not safe for
// concurrent use.
type Reader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader over r that accepts payloads of at most maxLen bytes (Postfix sends
// requests of at most 10 000 bytes). If r is already a *bufio.Reader of sufficient size it is
// used directly. A negative maxLen is treated as 0.
func NewReader(r io.Reader, maxLen int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readerBufSize), max: max(maxLen, 0)}
}

// Next reads one netstring and returns its payload. The returned slice is only valid until
// the next call to a method of r.
//
// Errors: io.EOF when the stream ends cleanly between netstrings; io.ErrUnexpectedEOF when it
// ends inside one; ErrTooLong when the declared length exceeds the maximum; ErrMalformed for
// broken framing; otherwise the error of the underlying reader (e.g. a deadline).
func (r *Reader) Next() ([]byte, error) {
	if p, ok := r.nextBuffered(); ok {
		return p, nil
	}
	n, err := r.readLength()
	if err != nil {
		return nil, err
	}
	r.buf = slices.Grow(r.buf[:0], n)[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return nil, eofIsUnexpected(err)
	}
	c, err := r.br.ReadByte()
	if err != nil {
		return nil, eofIsUnexpected(err)
	}
	if c != ',' {
		return nil, ErrMalformed
	}
	return r.buf, nil
}

// nextBuffered is Next's fast path: when a whole, well-formed netstring is at the head of
// the buffer, it consumes it and returns its payload, which points into the buffer (no copy,
// no read). Otherwise it consumes nothing and reports false.
func (r *Reader) nextBuffered() ([]byte, bool) {
	b, _ := r.br.Peek(r.br.Buffered())
	start, n, h := parseHead(b, r.max)
	if h != headComplete {
		return nil, false
	}
	_, _ = r.br.Discard(start + n + 1) // buffered: Discard does not read
	return b[start : start+n], true
}

// readLength parses "<digits>:" and returns the value. It never reads more digits than the
// maximum can have, so a hostile prefix such as "99999999999999999999:" fails with ErrTooLong
// after a few bytes and without overflow.
func (r *Reader) readLength() (int, error) {
	n, digits := 0, 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if digits == 0 && errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, eofIsUnexpected(err)
		}
		switch {
		case c == ':':
			if digits == 0 {
				return 0, ErrMalformed
			}
			return n, nil
		case c < '0' || c > '9':
			return 0, ErrMalformed
		case digits == 1 && n == 0:
			// netstrings.txt: "Extra zeros at the front of [len] are prohibited".
			return 0, ErrMalformed
		}
		n = n*10 + int(c-'0')
		digits++
		if n > r.max {
			return 0, ErrTooLong
		}
	}
}

// Buffered returns the number of bytes already read from the underlying reader and not yet
// consumed by Next.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// CompleteBuffered reports whether a whole netstring (or at least enough of one to fail
// without further input) is already buffered, so that Next will not wait for input. A server
// that batches its replies to pipelined requests sends them when this turns false: no reply
// is held back waiting for input.
func (r *Reader) CompleteBuffered() bool {
	b, _ := r.br.Peek(r.br.Buffered())
	_, _, h := parseHead(b, r.max)
	return h != headIncomplete
}

// head classifies the start of buffered input.
type head uint8

const (
	headIncomplete head = iota // more input is needed to tell
	headComplete               // a whole, well-formed netstring
	headBroken                 // malformed or too long: Next fails without further input
)

// parseHead looks at the netstring at the start of b with the rules of readLength and Next
// (digits only, no leading zero, at most max, ',' after the payload) and returns where its
// payload starts and how long it is when it is complete.
func parseHead(b []byte, max int) (start, n int, h head) {
	for i, c := range b {
		switch {
		case c == ':':
			if i == 0 {
				return 0, 0, headBroken
			}
			end := i + 1 + n
			if end >= len(b) {
				return 0, 0, headIncomplete
			}
			if b[end] != ',' {
				return 0, 0, headBroken
			}
			return i + 1, n, headComplete
		case c < '0' || c > '9', i == 1 && b[0] == '0':
			return 0, 0, headBroken
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, 0, headBroken
		}
	}
	return 0, 0, headIncomplete
}

// AppendNetstring appends payload to dst as one netstring and returns the extended slice.
// It allocates only when dst lacks capacity.
func AppendNetstring(dst []byte, payload []byte) []byte {
	dst = slices.Grow(dst, len(payload)+22)
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, ':')
	dst = append(dst, payload...)
	return append(dst, ',')
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
