package policy

import (
	"encoding/json"
	"fmt"
	"time"

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
	e.int(st.checked)
	e.int(st.expires)
	return e.buf
}

// decodeDANE reads a stored DANE outcome: the binary format, or the JSON of earlier
// versions. Malformed input gives an error, never a panic.
func decodeDANE(b []byte) (*daneState, error) {
	st := new(daneState)
	if isJSON(b) {
		var j daneJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, err
		}
		*st = daneState{Domain: j.Domain, Outcome: j.Outcome, Reasons: j.Reasons, checked: unixNano(j.Checked), expires: unixNano(j.Expires)}
		if err := knownOutcome(st.Outcome); err != nil {
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
	st.checked = d.int()
	st.expires = d.int()
	if err := d.end(); err != nil {
		return nil, err
	}
	if err := knownOutcome(st.Outcome); err != nil {
		return nil, err
	}
	st.Reasons = boundReasons(st.Reasons) // a store written before the bound
	return st, nil
}

// knownOutcome refuses an outcome this version does not know: read as "no DANE" it could
// weaken a dane-only domain, so the entry is skipped and the domain looked up afresh.
func knownOutcome(o dane.Outcome) error {
	if o < dane.NoDANE || o > dane.NoMail {
		return fmt.Errorf("unknown DANE outcome %d", int(o))
	}
	return nil
}

// daneJSON is how earlier versions stored a DANE outcome.
type daneJSON struct {
	Domain  string       `json:"domain"`
	Outcome dane.Outcome `json:"outcome"`
	Reasons []string     `json:"reasons"`
	Checked time.Time    `json:"checked"`
	Expires time.Time    `json:"expires"`
}
