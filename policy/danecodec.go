package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mailtls/mailtls/dane"
)

// daneFormat is the version byte of the binary DANE outcome (see codec.go). Format 2
// adds the hosts (DANEHosts) after the fields of format 1, which is still read (its
// outcomes have no hosts: the HTTP API then gives none, and an MTA that needs them defers
// until the outcome is looked up again).
const (
	daneFormat1 = 1
	daneFormat  = 2
)

// Bounds on stored hosts, far above what an outcome holds (dane.DefaultMaxHosts hosts, a
// few records each): a stored value beyond them is damaged.
const (
	maxStoredDANEHosts = 256
	maxStoredTLSA      = 256
)

// encodeDANE writes st in the binary format.
func encodeDANE(st *daneState) []byte {
	e := encoder{buf: make([]byte, 0, 64)}
	e.byte(daneFormat)
	e.str(st.Domain)
	e.int(int64(st.Outcome))
	e.strs(st.Reasons)
	e.int(st.checked)
	e.int(st.expires)
	encodeDANEHosts(&e, st.hosts)
	return e.buf
}

// encodeDANEHosts writes hs: a flag byte (0 none; bit 0 present, bit 1 MXSecure, bit 2
// NoMX), the host count, then each host and its records.
func encodeDANEHosts(e *encoder, hs *DANEHosts) {
	if hs == nil {
		e.byte(0)
		return
	}
	flags := byte(1)
	if hs.MXSecure {
		flags |= 2
	}
	if hs.NoMX {
		flags |= 4
	}
	e.byte(flags)
	e.uint(uint64(len(hs.Hosts)))
	for _, h := range hs.Hosts {
		e.str(h.Name)
		e.uint(uint64(h.Preference))
		e.str(h.TLSABase)
		e.int(int64(h.State))
		e.uint(uint64(len(h.TLSA)))
		for _, t := range h.TLSA {
			e.byte(t.Usage)
			e.byte(t.Selector)
			e.byte(t.MatchingType)
			e.str(t.Data)
		}
	}
}

// decodeDANEHosts reads what encodeDANEHosts wrote.
func decodeDANEHosts(d *decoder) *DANEHosts {
	flags := d.byte()
	if flags == 0 || d.err != nil {
		return nil
	}
	if flags&^7 != 0 || flags&1 == 0 {
		d.fail(errors.New("stored DANE hosts: unknown flags"))
		return nil
	}
	n := d.uint()
	if n > maxStoredDANEHosts || n > uint64(len(d.b)) {
		d.fail(errors.New("stored DANE hosts: too many hosts"))
		return nil
	}
	hs := &DANEHosts{MXSecure: flags&2 != 0, NoMX: flags&4 != 0, Hosts: make([]DANEHost, n)}
	for i := range hs.Hosts {
		h := &hs.Hosts[i]
		h.Name = d.str()
		pref := d.uint()
		if pref > 0xffff {
			d.fail(errors.New("stored DANE hosts: MX preference out of range"))
			return nil
		}
		h.Preference = uint16(pref)
		h.TLSABase = d.str()
		state := d.int()
		if state < int64(dane.HostNoTLSA) || state > int64(dane.HostFailed) {
			d.fail(fmt.Errorf("stored DANE hosts: unknown host state %d", state))
			return nil
		}
		h.State = dane.HostState(state)
		m := d.uint()
		if m > maxStoredTLSA || m > uint64(len(d.b)) {
			d.fail(errors.New("stored DANE hosts: too many TLSA records"))
			return nil
		}
		if m > 0 {
			h.TLSA = make([]DANETLSA, m)
		}
		for j := range h.TLSA {
			h.TLSA[j] = DANETLSA{Usage: d.byte(), Selector: d.byte(), MatchingType: d.byte(), Data: d.str()}
		}
		if d.err != nil {
			return nil
		}
	}
	return hs
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
	if len(b) == 0 || b[0] != daneFormat && b[0] != daneFormat1 {
		return nil, versionError(b)
	}
	d := decoder{b: b[1:]}
	st.Domain = d.str()
	st.Outcome = dane.Outcome(d.int())
	st.Reasons = d.strs()
	st.checked = d.int()
	st.expires = d.int()
	if b[0] == daneFormat {
		st.hosts = decodeDANEHosts(&d)
	}
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
