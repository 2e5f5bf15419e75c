package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/jsonenc"
	"github.com/mailtls/mailtls/policy"
)

var errAuditTime = errors.New("audit log: the time is outside the years RFC 3339 can write")

// auditLog writes one JSON line per answered query: what was asked, what was answered,
// from which stage and why. Lines are encoded by hand (internal/jsonenc), byte for byte as
// encoding/json encodes auditLine, and written in batches (auditWriter). It is safe for
// concurrent use.
type auditLog struct {
	cfg  config.Audit
	w    auditWriter
	bufs sync.Pool // *[]byte a line is encoded into
	macs sync.Pool // hash.Hash: HMAC-SHA256 under cfg.HashKey

	// next is the log that replaced this one (reload): a line that comes after close, from
	// an answer that began before the swap, is written there instead of lost.
	next atomic.Pointer[auditLog]

	reasons auditReasons
}

// auditReasons keeps the reasons last rendered per slot (a hash of profile and key), as
// the JSON array of the audit line, with the policy.ReasonsKey they were rendered for: a
// cached answer asked again and again rests on the same immutable facts, so its reasons
// are rendered and escaped once per change of them instead of once per line. A slot is
// used only when its key equals the decision's (anything the text is rendered from);
// entries are immutable once published; memory is bounded by the slot count.
type auditReasons struct {
	slots [auditReasonSlots]atomic.Pointer[auditReasonsEntry]
}

const auditReasonSlots = 1024 // a power of two

type auditReasonsEntry struct {
	key  policy.ReasonsKey
	json []byte // shared by the lines that use it: read, never modified
}

// jsonOf returns d's reasons as a JSON array of strings, nil when there are none; from
// the slot when they were rendered for the same key.
func (c *auditReasons) jsonOf(d *policy.Decision) []byte {
	k, ok := d.ReasonsKey() // before rendering (policy.Decision.ReasonsKey)
	if !ok {
		return reasonsJSON(d.Reasons())
	}
	const offset, prime = 14695981039346656037, 1099511628211 // FNV-1a
	h := uint64(offset)
	for i := 0; i < len(d.Profile); i++ {
		h = (h ^ uint64(d.Profile[i])) * prime
	}
	h *= prime
	for i := 0; i < len(d.Key); i++ {
		h = (h ^ uint64(d.Key[i])) * prime
	}
	slot := &c.slots[h&(auditReasonSlots-1)]
	if e := slot.Load(); e != nil && e.key == k {
		return e.json
	}
	enc := reasonsJSON(d.Reasons())
	slot.Store(&auditReasonsEntry{key: k, json: enc})
	return enc
}

// reasonsJSON encodes reasons as the line's JSON array; nil for none (the field is left out).
func reasonsJSON(reasons []string) []byte {
	if len(reasons) == 0 {
		return nil
	}
	return jsonenc.AppendStrings(nil, reasons)
}

// auditLine is the record format (documented in README.md): appendLine encodes it by hand,
// byte for byte as encoding/json would (TestAuditLineMatchesEncodingJSON).
type auditLine struct {
	Time      time.Time     `json:"time"`
	Profile   string        `json:"profile"`
	Key       string        `json:"key"`
	Domain    string        `json:"domain,omitempty"`
	Answer    string        `json:"answer"`
	Source    policy.Source `json:"source"`
	Would     *policy.Would `json:"would,omitempty"`
	CacheHit  bool          `json:"cache_hit"`
	LatencyMS float64       `json:"latency_ms"`
	Reasons   []string      `json:"reasons,omitempty"`
	Hashed    bool          `json:"hashed,omitempty"`
}

// openAudit opens the audit log described by c; nil when it is off. lost is called with
// the number of lines a write could not write (auditLost).
func openAudit(c config.Audit, lost func(lines int, err error)) (*auditLog, error) {
	if c.File == "" {
		return nil, nil
	}
	a := &auditLog{cfg: c}
	a.w.lost, a.w.out = lost, os.Stdout
	if c.File != "-" {
		f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		a.w.file, a.w.out = f, f
	}
	a.macs.New = func() any { return hmac.New(sha256.New, []byte(c.HashKey)) }
	return a, nil
}

// auditLost counts in mailtls_audit_write_errors_total the lines a write could not write,
// and logs why.
func auditLost(m *metrics, log *slog.Logger) func(int, error) {
	return func(lines int, err error) {
		m.auditErrors.Add(float64(lines))
		log.Warn("audit log write failed", "lines", lines, "err", err)
	}
}

// record adds the line for one decision, answered at now after latency. It returns an
// error, for the caller to count, only for a line that is dropped (auditWriter); write
// errors are counted when the batch is written. The answer never waits on the disk.
func (a *auditLog) record(d *policy.Decision, reply string, now time.Time, latency time.Duration) error {
	if a == nil {
		return nil
	}
	bp, _ := a.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b, ok := a.appendLine((*bp)[:0], d, reply, now, latency)
	err := errAuditTime
	if ok {
		err = a.w.add(b)
	}
	*bp = b
	a.bufs.Put(bp)
	if err == errAuditClosed {
		if next := a.next.Load(); next != nil {
			return next.record(d, reply, now, latency)
		}
	}
	return err
}

// appendLine appends the line for one decision and its newline: auditLine's fields in
// order, with its omitempty rules. ok is false for a time RFC 3339 cannot carry.
func (a *auditLog) appendLine(b []byte, d *policy.Decision, reply string, now time.Time, latency time.Duration) (_ []byte, ok bool) {
	b = jsonenc.AppendField(append(b, '{'), "time", false)
	if b, ok = jsonenc.AppendTimeUTC(b, now); !ok {
		return b, false
	}
	hashed := a.cfg.HashDomains
	b = jsonenc.AppendField(b, "profile", true)
	b = jsonenc.AppendString(b, d.Profile)
	b = jsonenc.AppendField(b, "key", true)
	// Keyed hashes let an operator correlate lines and look up a known domain without the
	// log disclosing where mail goes; reasons and reply attributes name hosts, so they go.
	b = a.appendName(b, d.Key, hashed)
	if d.Domain != "" {
		b = jsonenc.AppendField(b, "domain", true)
		b = a.appendName(b, d.Domain, hashed)
	}
	if hashed {
		reply = redactReply(reply)
	}
	b = jsonenc.AppendField(b, "answer", true)
	b = jsonenc.AppendString(b, reply)
	b = jsonenc.AppendField(b, "source", true)
	b = jsonenc.AppendString(b, string(d.Source))
	if w := d.Would; w != nil {
		r := w.Reply
		if hashed {
			r = redactReply(r)
		}
		b = jsonenc.AppendField(b, "would", true)
		b = jsonenc.AppendField(append(b, '{'), "reply", false)
		b = jsonenc.AppendString(b, r)
		b = jsonenc.AppendField(b, "source", true)
		b = append(jsonenc.AppendString(b, string(w.Source)), '}')
	}
	b = jsonenc.AppendField(b, "cache_hit", true)
	b = strconv.AppendBool(b, d.CacheHit)
	b = jsonenc.AppendField(b, "latency_ms", true)
	b = jsonenc.AppendFloat(b, float64(latency.Microseconds())/1000)
	if !hashed {
		if reasons := a.reasons.jsonOf(d); reasons != nil { // rendered only here: the lookup itself formats none
			b = jsonenc.AppendField(b, "reasons", true)
			b = append(b, reasons...)
		}
	} else {
		b = jsonenc.AppendField(b, "hashed", true)
		b = append(b, "true"...)
	}
	return append(b, '}', '\n'), true
}

// appendName appends s as a JSON string: as it is, or hashed (hash) when hashed is true.
func (a *auditLog) appendName(b []byte, s string, hashed bool) []byte {
	if !hashed {
		return jsonenc.AppendString(b, s)
	}
	return a.appendHash(b, s)
}

// appendHash appends "hmac:" and the first 16 bytes of s's HMAC-SHA256 under the hash
// key in hex, as a JSON string (nothing in it needs escaping); "" stays "".
func (a *auditLog) appendHash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '"', '"')
	}
	m := a.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, s)
	var sum [sha256.Size]byte
	b = append(b, `"hmac:`...)
	b = hex.AppendEncode(b, m.Sum(sum[:0])[:16])
	a.macs.Put(m)
	return append(b, '"')
}

// redactReply keeps the level of a reply and drops its attributes, which name hosts.
func redactReply(r string) string {
	n := 0
	for i := 0; i < len(r); i++ {
		if r[i] == ' ' {
			n++
			if n == 2 {
				return r[:i]
			}
		}
	}
	return r
}

// close writes the lines that wait and closes the file; lines that come later go to next
// (the log that replaced this one; nil when the log is now off or the daemon stops).
func (a *auditLog) close(next *auditLog) {
	if a == nil {
		return
	}
	a.next.Store(next)
	a.w.close()
}
