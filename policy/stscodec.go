package policy

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// stsFormat is the version byte of the binary MTA-STS record (see codec.go).
const stsFormat = 1

// Flags of an encoded MTA-STS record: fields that equal what others imply are not stored.
const (
	stsTXTStandard    = 1 << iota // TXT is standardTXT(RecordID), or nil without an id
	stsURLStandard                // URL is standardURL(Domain)
	stsPolicy                     // a policy follows
	stsPolicyIDSame               // PolicyID equals RecordID
	stsFailedIDSame               // FailedID equals RecordID
	stsReasonNX                   // TXTReason is nxReason(Domain)
	stsLinesCanonical             // the policy's Lines are canonicalLines of it (read back as nil)
	stsFlagsAll       = 1<<iota - 1
)

// encodeSTS writes r in the binary format.
func encodeSTS(r *stsRecord) []byte {
	var flags uint64
	if isStandardTXT(r.TXT, r.RecordID) {
		flags |= stsTXTStandard
	}
	if r.URL != "" && r.URL == standardURL(r.Domain) {
		flags |= stsURLStandard
	}
	if r.Policy != nil {
		flags |= stsPolicy
		if r.Policy.Lines == nil || linesCanonical(r.Policy) {
			flags |= stsLinesCanonical
		}
	}
	if r.PolicyID == r.RecordID {
		flags |= stsPolicyIDSame
	}
	if r.FailedID == r.RecordID {
		flags |= stsFailedIDSame
	}
	if r.TXTReason != "" && r.TXTReason == nxReason(r.Domain) {
		flags |= stsReasonNX
	}
	e := encoder{buf: make([]byte, 0, 128)}
	e.byte(stsFormat)
	e.uint(flags)
	e.str(r.Domain)
	e.str(r.RecordID)
	if flags&stsTXTStandard == 0 {
		e.strs(r.TXT)
	}
	if flags&stsReasonNX == 0 {
		e.str(r.TXTReason)
	}
	e.int(unixNano(r.TXTChecked))
	e.int(int64(r.TXTTTL))
	if p := r.Policy; p != nil {
		e.str(p.Version)
		e.str(string(p.Mode))
		e.uint(uint64(p.MaxAge))
		e.strs(p.MX)
		if flags&stsLinesCanonical == 0 {
			e.strs(p.Lines)
		}
	}
	if flags&stsPolicyIDSame == 0 {
		e.str(r.PolicyID)
	}
	if flags&stsURLStandard == 0 {
		e.str(r.URL)
	}
	e.int(unixNano(r.Fetched))
	e.int(unixNano(r.Expires))
	if flags&stsFailedIDSame == 0 {
		e.str(r.FailedID)
	}
	e.int(unixNano(r.FailedAt))
	e.str(r.FailType)
	e.str(r.FailReason)
	e.int(unixNano(r.DNSFailedAt))
	e.str(r.DNSError)
	return e.buf
}

// decodeSTS reads a stored MTA-STS record: the binary format, or the JSON of earlier
// versions. Malformed input gives an error, never a panic. A policy whose text is the
// canonical one is read with Lines nil (see heldPolicy).
func decodeSTS(b []byte) (*stsRecord, error) {
	r := new(stsRecord)
	if _, err := decodeSTSInto(b, r, "", true); err != nil {
		return nil, err
	}
	return r, nil
}

// stsDerived are the flags of fields that newSTSState derives from the others.
const stsDerived = stsTXTStandard | stsURLStandard | stsReasonNX

// decodeSTSInto is decodeSTS into r, which it overwrites, for Load, which decodes a million
// values and keeps none of the records: the domain name is key's string when it equals key,
// and, unless derive, the fields the binary format marks standard are left empty and
// reported in std (see stsDerived), for newSTSState to derive instead.
func decodeSTSInto(b []byte, r *stsRecord, key string, derive bool) (std uint64, err error) {
	*r = stsRecord{}
	if isJSON(b) {
		return 0, json.Unmarshal(b, r)
	}
	if len(b) == 0 || b[0] != stsFormat {
		return 0, versionError(b)
	}
	d := decoder{b: b[1:]}
	flags := d.uint()
	if flags&^stsFlagsAll != 0 {
		return 0, codecError("stored value: unknown flags " + strconv.FormatUint(flags, 2))
	}
	if !derive {
		std = flags & stsDerived
	}
	r.Domain = d.strKnown(key)
	r.RecordID = d.str()
	if flags&stsTXTStandard == 0 {
		r.TXT = d.strs()
	} else if derive && r.RecordID != "" {
		r.TXT = standardTXT(r.RecordID)
	}
	if flags&stsReasonNX == 0 {
		r.TXTReason = d.str()
	} else if derive {
		r.TXTReason = nxReason(r.Domain)
	}
	r.TXTChecked = fromUnixNano(d.int())
	r.TXTTTL = time.Duration(d.int())
	if flags&stsPolicy != 0 {
		p := &mtasts.Policy{Version: d.strKnown(mtasts.PolicyVersion),
			Mode:   mtasts.Mode(d.strKnown(string(mtasts.ModeEnforce), string(mtasts.ModeTesting), string(mtasts.ModeNone))),
			MaxAge: d.uint32(), MX: d.strs()}
		if flags&stsLinesCanonical == 0 {
			p.Lines = d.strs()
		}
		r.Policy = p
	}
	r.PolicyID = r.RecordID
	if flags&stsPolicyIDSame == 0 {
		r.PolicyID = d.str()
	}
	if flags&stsURLStandard == 0 {
		r.URL = d.str()
	} else if derive {
		r.URL = standardURL(r.Domain)
	}
	r.Fetched = fromUnixNano(d.int())
	r.Expires = fromUnixNano(d.int())
	r.FailedID = r.RecordID
	if flags&stsFailedIDSame == 0 {
		r.FailedID = d.str()
	}
	r.FailedAt = fromUnixNano(d.int())
	r.FailType = d.str()
	r.FailReason = d.str()
	r.DNSFailedAt = fromUnixNano(d.int())
	r.DNSError = d.str()
	return std, d.end()
}

// canonicalLines is the text of p as a policy host serves it in the usual layout
// (RFC 8461 §3.2: version, mode, the mx lines, max_age), line by line.
func canonicalLines(p *mtasts.Policy) []string {
	lines := make([]string, 0, 3+len(p.MX))
	lines = append(lines, "version: "+p.Version, "mode: "+string(p.Mode))
	for _, mx := range p.MX {
		lines = append(lines, "mx: "+mx)
	}
	return append(lines, "max_age: "+strconv.FormatUint(uint64(p.MaxAge), 10))
}

// linesCanonical reports whether p's Lines are canonicalLines(p), without building them;
// not for nil Lines.
func linesCanonical(p *mtasts.Policy) bool {
	l := p.Lines
	if p.Version != mtasts.PolicyVersion || len(l) != 3+len(p.MX) || l[0] != "version: "+p.Version || l[1] != "mode: "+string(p.Mode) ||
		l[len(l)-1] != "max_age: "+strconv.FormatUint(uint64(p.MaxAge), 10) {
		return false
	}
	for i, mx := range p.MX {
		if l[2+i] != "mx: "+mx {
			return false
		}
	}
	return true
}
