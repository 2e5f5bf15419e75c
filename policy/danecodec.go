package policy

import (
	"encoding/json"

	"github.com/mailtls/mailtls/dane"
)

// daneFormat is the version byte of the binary DANE outcome (see codec.go).
const daneFormat = 1

// encodeDANE writes st in the binary format.
func encodeDANE(st *daneState) []byte {
	e := encoder{buf: make([]byte, 0, 64)}
	e.byte(daneFormat)
	e.str(st.Domain)
	e.int(int64(st.Outcome))
	e.strs(st.Reasons)
	e.int(unixNano(st.Checked))
	e.int(unixNano(st.Expires))
	return e.buf
}

// decodeDANE reads a stored DANE outcome: the binary format, or the JSON of earlier
// versions. Malformed input gives an error, never a panic.
func decodeDANE(b []byte) (*daneState, error) {
	st := new(daneState)
	if isJSON(b) {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, err
		}
		return st, nil
	}
	if len(b) == 0 || b[0] != daneFormat {
		return nil, versionError(b)
	}
	d := decoder{b: b[1:]}
	st.Domain = d.str()
	st.Outcome = dane.Outcome(d.int())
	st.Reasons = d.strs()
	st.Checked = fromUnixNano(d.int())
	st.Expires = fromUnixNano(d.int())
	if err := d.end(); err != nil {
		return nil, err
	}
	return st, nil
}
