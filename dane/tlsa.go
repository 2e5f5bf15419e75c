package dane

import (
	"encoding/asn1"
	"encoding/hex"
	"fmt"
)

// TLSA is one TLSA record (RFC 6698 §2.1) with its usability for SMTP.
type TLSA struct {
	Usage        uint8
	Selector     uint8
	MatchingType uint8
	Data         string // certificate association data, hex
	Usable       bool
	Why          string // why the record is or is not usable, for operators
}

// String renders the record in presentation order: "3 1 1 <hex>".
func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, t.Data)
}

// TLSA parameter values (RFC 6698 §7.2–§7.4, mnemonics from RFC 7218).
const (
	UsagePKIXTA = 0
	UsagePKIXEE = 1
	UsageDANETA = 2
	UsageDANEEE = 3

	SelectorCert = 0
	SelectorSPKI = 1

	MatchingFull    = 0
	MatchingSHA2256 = 1
	MatchingSHA2512 = 2
)

func usageName(u uint8) string {
	switch u {
	case UsagePKIXTA:
		return "PKIX-TA"
	case UsagePKIXEE:
		return "PKIX-EE"
	case UsageDANETA:
		return "DANE-TA"
	case UsageDANEEE:
		return "DANE-EE"
	}
	return "unknown"
}

func selectorName(s uint8) string {
	switch s {
	case SelectorCert:
		return "Cert"
	case SelectorSPKI:
		return "SPKI"
	}
	return "unknown"
}

func matchingName(m uint8) string {
	switch m {
	case MatchingFull:
		return "Full"
	case MatchingSHA2256:
		return "SHA2-256"
	case MatchingSHA2512:
		return "SHA2-512"
	}
	return "unknown"
}

// Usable reports whether an SMTP client may use a TLSA record with these parameters, and
// why. A record that is not usable is not an error: it is simply ignored when
// authenticating the server, and an RRset in which no record is usable still obliges the
// client to use TLS (RFC 7672 §2.2, §3.1.3; RFC 7671 §4.1).
//
//   - usage 2 (DANE-TA) and 3 (DANE-EE) are usable; 0 (PKIX-TA) and 1 (PKIX-EE) are not,
//     because SMTP has no agreed set of public CAs (RFC 7672 §3.1.3); other usages are
//     unknown and unusable (RFC 6698 §2.1.1, RFC 7671 §4.1);
//   - selector 0 (full certificate) and 1 (SubjectPublicKeyInfo); others are unknown;
//   - matching type 0 (exact DER), 1 (SHA2-256) and 2 (SHA2-512); others are unknown;
//   - the data must be well-formed hex of the length the matching type implies: 32 octets
//     for SHA2-256 and 64 for SHA2-512 (RFC 6698 §2.1.3); for matching type 0 one complete
//     DER SEQUENCE (a certificate or a SubjectPublicKeyInfo, RFC 6698 §2.1.2), which a
//     client cannot compare against anything if it is empty or truncated.
func Usable(usage, selector, matching uint8, data string) (bool, string) {
	switch usage {
	case UsageDANETA, UsageDANEEE:
	case UsagePKIXTA, UsagePKIXEE:
		return false, fmt.Sprintf("usage %d (%s) unusable for SMTP, RFC 7672 §3.1.3", usage, usageName(usage))
	default:
		return false, fmt.Sprintf("usage %d unknown, unusable (RFC 6698 §2.1.1, RFC 7671 §4.1)", usage)
	}
	if selector != SelectorCert && selector != SelectorSPKI {
		return false, fmt.Sprintf("selector %d unknown, unusable (RFC 6698 §2.1.2)", selector)
	}
	raw, err := hex.DecodeString(data)
	if err != nil {
		return false, "association data is not valid hex (RFC 6698 §2.2)"
	}
	switch matching {
	case MatchingSHA2256, MatchingSHA2512:
		want := 32
		if matching == MatchingSHA2512 {
			want = 64
		}
		if len(raw) != want {
			return false, fmt.Sprintf("matching type %d (%s) needs %d octets of data, has %d (RFC 6698 §2.1.3)",
				matching, matchingName(matching), want, len(raw))
		}
	case MatchingFull:
		if len(raw) == 0 {
			return false, "matching type 0 (Full) with empty data (RFC 6698 §2.1.3)"
		}
		if !oneDERSequence(raw) {
			what := "certificate"
			if selector == SelectorSPKI {
				what = "SubjectPublicKeyInfo"
			}
			return false, fmt.Sprintf("matching type 0 (Full): data is not one DER-encoded %s (RFC 6698 §2.1.2)", what)
		}
	default:
		return false, fmt.Sprintf("matching type %d unknown, unusable (RFC 6698 §2.1.3)", matching)
	}
	return true, fmt.Sprintf("usage %d (%s), selector %d (%s), matching type %d (%s): usable",
		usage, usageName(usage), selector, selectorName(selector), matching, matchingName(matching))
}

// oneDERSequence reports whether b is exactly one well-formed DER SEQUENCE, the outer shape
// of both a certificate and a SubjectPublicKeyInfo.
func oneDERSequence(b []byte) bool {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	return err == nil && len(rest) == 0 && v.Class == asn1.ClassUniversal &&
		v.Tag == asn1.TagSequence && v.IsCompound
}
