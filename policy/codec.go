package policy

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// The persistent store's values are a compact binary encoding: the first byte is the
// format version (stsFormat, daneFormat), then the fields in a fixed order, strings and
// lists prefixed by their uvarint length, numbers and times (unix nanoseconds, 0 for the
// zero time) as varints. Older stores hold JSON objects, whose first byte is '{': those
// are still read.

// encoder appends a value's fields to buf.
type encoder struct{ buf []byte }

func (e *encoder) byte(b byte)   { e.buf = append(e.buf, b) }
func (e *encoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) int(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) str(s string)  { e.uint(uint64(len(s))); e.buf = append(e.buf, s...) }
func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// codecError is an error of a stored value; a constant type, so the sentinel below is no
// mutable package state.
type codecError string

func (e codecError) Error() string { return string(e) }

// errTruncated is the error of a value that ends inside a field.
const errTruncated codecError = "stored value: truncated"

// decoder reads a value's fields from b, recording the first error; after an error every
// read returns zero values. Allocations are bounded by the input: a string by its bytes, a
// list by one string header (16 bytes) per remaining input byte at most.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uint32 reads a uvarint that must fit 32 bits.
func (d *decoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 {
		d.fail(errors.New("stored value: number out of range"))
		return 0
	}
	return uint32(v)
}

func (d *decoder) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// strKnown reads a string and returns the one of known it equals, without allocating, or
// else a new string.
func (d *decoder) strKnown(known ...string) string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return ""
	}
	b := d.b[:n]
	d.b = d.b[n:]
	for _, k := range known {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// strs reads a list of strings; nil when empty (as JSON's omitempty gives it back).
func (d *decoder) strs() []string {
	n := d.uint()
	if n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) { // every string takes at least its length byte
		d.fail(errTruncated)
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	if d.err != nil {
		return nil
	}
	return ss
}

// end reports the first error, or that bytes follow the value.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New("stored value: " + strconv.Itoa(len(d.b)) + " bytes after the end")
	}
	return d.err
}

// isJSON reports whether a stored value is in the JSON format of earlier versions.
func isJSON(b []byte) bool {
	return len(b) > 0 && b[0] == '{'
}

// versionError is the error of a value in a format this version does not know.
func versionError(b []byte) error {
	if len(b) == 0 {
		return errors.New("stored value: empty")
	}
	return errors.New("stored value: unknown format " + strconv.Itoa(int(b[0])) + " (" + strings.TrimSpace(strconv.QuoteToASCII(string(b[:min(len(b), 8)]))) + "…)")
}
