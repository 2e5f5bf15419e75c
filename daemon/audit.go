package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/policy"
)

// auditLog writes one JSON line per answered query: what was asked, what was answered,
// from which stage and why. It is safe for concurrent use.
type auditLog struct {
	mu   sync.Mutex
	cfg  config.Audit
	out  io.Writer
	file *os.File // nil for standard output

	reasons auditReasons
}

// auditReasons keeps the reasons text last rendered per slot (a hash of profile and key),
// with the policy.ReasonsKey it was rendered for: a cached answer asked again and again
// rests on the same immutable facts, so its text is rendered once per change of them
// instead of once per line. A slot is used only when its key equals the decision's
// (anything the text is rendered from); entries are immutable once published; memory is
// bounded by the slot count.
type auditReasons struct {
	slots [auditReasonSlots]atomic.Pointer[auditReasonsEntry]
}

const auditReasonSlots = 1024 // a power of two

type auditReasonsEntry struct {
	key  policy.ReasonsKey
	text []string // shared by the lines that use it: read, never modified
}

// of returns d's reasons, from the slot when they were rendered for the same key.
func (c *auditReasons) of(d *policy.Decision) []string {
	k, ok := d.ReasonsKey() // before rendering (policy.Decision.ReasonsKey)
	if !ok {
		return d.Reasons()
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
		return e.text
	}
	text := d.Reasons()
	slot.Store(&auditReasonsEntry{key: k, text: text})
	return text
}

// auditLine is the record format (documented in README.md).
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

// openAudit opens the audit log described by c; nil when it is off.
func openAudit(c config.Audit) (*auditLog, error) {
	if c.File == "" {
		return nil, nil
	}
	a := &auditLog{cfg: c}
	if err := a.reopen(); err != nil {
		return nil, err
	}
	return a, nil
}

// reopen (re)opens the file, for SIGHUP after logrotate moved it.
func (a *auditLog) reopen() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.File == "-" {
		a.out = os.Stdout
		return nil
	}
	f, err := os.OpenFile(a.cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if a.file != nil {
		a.file.Close()
	}
	a.file, a.out = f, f
	return nil
}

// record writes the line for one decision. Write errors are returned for the caller to
// count; the answer to Postfix never waits on a failing disk beyond one write.
func (a *auditLog) record(d *policy.Decision, reply string, latency time.Duration) error {
	if a == nil {
		return nil
	}
	l := auditLine{
		Time: time.Now().UTC(), Profile: d.Profile, Key: d.Key, Domain: d.Domain, Answer: reply,
		Source: d.Source, Would: d.Would, CacheHit: d.CacheHit,
		LatencyMS: float64(latency.Microseconds()) / 1000,
	}
	if !a.cfg.HashDomains {
		l.Reasons = a.reasons.of(d) // rendered only here: the lookup itself formats none
	} else {
		// Keyed hashes let an operator correlate lines and look up a known domain
		// without the log disclosing where mail goes; reasons name hosts, so they go.
		l.Key, l.Domain, l.Hashed = a.hash(d.Key), a.hash(d.Domain), true
		l.Answer = redactReply(l.Answer)
		if l.Would != nil {
			w := *l.Would
			w.Reply = redactReply(w.Reply)
			l.Would = &w
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.out.Write(b)
	return err
}

func (a *auditLog) hash(s string) string {
	if s == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(a.cfg.HashKey))
	m.Write([]byte(s))
	return "hmac:" + hex.EncodeToString(m.Sum(nil)[:16])
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

func (a *auditLog) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file != nil {
		a.file.Close()
	}
}
