package sqlitestore

import (
	"database/sql"
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is the CRC-32C table (the polynomial with hardware support on amd64 and
// arm64); a constant-built, read-only table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC-32C of one row: kind, key and value each prefixed with its length,
// then expires and updated, so a changed byte in any of them, or one moved from a field to
// the next, changes it. A CRC-32 detects every error confined to 32 consecutive bits (one
// flipped byte, a few flipped bits, one changed word) and misses a larger random change
// with probability 2^-32. It guards against corruption (a bad disk, a torn page, a stray
// write), not against someone who can write the file: they can write a matching sum too.
func checksum(kind, key string, value []byte, expires, updated int64) int64 {
	var b [binary.MaxVarintLen64]byte
	h := uint32(0)
	field := func(p []byte) {
		h = crc32.Update(h, castagnoli, b[:binary.PutUvarint(b[:], uint64(len(p)))])
		h = crc32.Update(h, castagnoli, p)
	}
	field([]byte(kind))
	field([]byte(key))
	field(value)
	h = crc32.Update(h, castagnoli, b[:binary.PutVarint(b[:], expires)])
	h = crc32.Update(h, castagnoli, b[:binary.PutVarint(b[:], updated)])
	return int64(h)
}

// verify reports whether a row read back carries the sum of its fields. A row without a
// sum (NULL) fails, except in a legacy store, which has none to check.
func (s *Store) verify(kind, key string, value []byte, expires, updated int64, sum sql.NullInt64) bool {
	if s.legacy {
		return true
	}
	if sum.Valid && sum.Int64 == checksum(kind, key, value, expires, updated) {
		return true
	}
	s.corrupt.Add(1)
	s.log.Warn("cache: stored value fails its checksum; treated as missing and looked up afresh",
		"kind", kind, "domain", key)
	return false
}
