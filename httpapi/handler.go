package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/mailtls/mailtls/policy"
)

// OpenAPI is the description of this API (OpenAPI 3.0), served at GET /v1/openapi.yaml.
//
//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns a copy of the API's OpenAPI description.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// Decider answers one request the way every front end does: it resolves key under the
// named profile into dec, counts and audits the answer, and returns the socketmap reply
// of the decision. An unknown profile is an error wrapping policy.ErrUnknownProfile.
type Decider interface {
	Decide(ctx context.Context, profile, key string, dec *policy.Decision) (reply string, err error)
}

// MaxNextHop bounds the next-hop in the path (a domain is at most 253 bytes; a next-hop
// adds brackets, a port or a service name).
const MaxNextHop = 512

const policyPrefix = "/v1/policy/"

// Handler serves the API. Its fields are fixed once it serves.
type Handler struct {
	Decider Decider
	// Profile is what a request without ?profile= gets; "" makes profile required.
	Profile string
	// Token, when not empty, must come as "Authorization: Bearer <Token>" (RFC 6750 §2.1).
	Token  string
	Logger *slog.Logger

	once   sync.Once
	fixed  *fixedHeaders
	bodies bodyCache
	work   sync.Pool // of *work
}

// fixedHeaders are header values every answer shares, built once: net/http replaces a
// header's value slice on Set and never writes into it, so one slice serves every answer.
type fixedHeaders struct {
	noStore, nosniff, json []string
	tokenDigest            [sha256.Size]byte
}

// work is what one answer needs, reused from answer to answer.
type work struct {
	dec policy.Decision
	buf []byte
}

// maxPooledBuf is the largest buffer kept for reuse.
const maxPooledBuf = 64 << 10

func (h *Handler) init() {
	h.once.Do(func() {
		h.fixed = &fixedHeaders{noStore: []string{"no-store"}, nosniff: []string{"nosniff"},
			json: []string{"application/json"}, tokenDigest: sha256.Sum256([]byte(h.Token))}
	})
}

// Error is the body of every non-200 answer (openapi.yaml, schema Error).
type Error struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.logger().Error("HTTP API handler panicked", "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	h.init()
	hdr := w.Header()
	hdr["Cache-Control"] = h.fixed.noStore
	hdr["X-Content-Type-Options"] = h.fixed.nosniff
	if h.Token != "" && !h.authorized(r) {
		// RFC 6750 §3: a missing token gets the bare challenge, a wrong one invalid_token.
		chal := `Bearer realm="mailtls"`
		if r.Header.Get("Authorization") != "" {
			chal += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", chal)
		writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return
	}
	switch {
	case r.URL.Path == "/v1/openapi.yaml":
		if !allowGet(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
		if r.Method != http.MethodHead {
			_, _ = w.Write(openAPI)
		}
	case strings.HasPrefix(r.URL.Path, policyPrefix):
		if allowGet(w, r) {
			h.policy(w, r)
		}
	default:
		writeError(w, http.StatusNotFound, "no such resource: the API is GET /v1/policy/{next-hop}")
	}
}

func (h *Handler) policy(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Path[len(policyPrefix):]
	switch {
	case key == "":
		writeError(w, http.StatusBadRequest, "the next-hop is missing: GET /v1/policy/{next-hop}")
		return
	case len(key) > MaxNextHop:
		writeError(w, http.StatusBadRequest, "the next-hop is longer than "+strconv.Itoa(MaxNextHop)+" bytes")
		return
	case strings.ContainsAny(key, "/ \t\r\n"):
		writeError(w, http.StatusBadRequest, "the next-hop contains a slash, a space or a control character")
		return
	}
	profile, given := profileParam(r.URL)
	name := h.Profile
	switch {
	case given > 0 && (given != 1 || profile == ""):
		writeError(w, http.StatusBadRequest, "give one non-empty profile")
		return
	case given > 0:
		name = profile
	case name == "":
		writeError(w, http.StatusBadRequest, "the profile is missing: ?profile=NAME")
		return
	}
	wk, _ := h.work.Get().(*work)
	if wk == nil {
		wk = &work{}
	}
	defer h.release(wk)
	dec := &wk.dec
	*dec = policy.Decision{}
	reply, err := h.Decider.Decide(r.Context(), name, key, dec)
	if errors.Is(err, policy.ErrUnknownProfile) {
		writeError(w, http.StatusNotFound, "profile "+strconv.Quote(name)+" is not configured")
		return
	} else if err != nil {
		h.logger().Error("HTTP API decision failed", "profile", name, "key", key, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	b, ok := h.bodies.appendBody(wk.buf[:0], dec, reply)
	wk.buf = b
	if !ok {
		h.logger().Error("HTTP API answer not encodable", "profile", name, "key", key, "expires", dec.Expires)
		writeError(w, http.StatusInternalServerError, "encoding the answer failed")
		return
	}
	h.writeBody(w, http.StatusOK, b)
}

// release returns wk for reuse, unless its buffer grew large.
func (h *Handler) release(wk *work) {
	if cap(wk.buf) > maxPooledBuf {
		return
	}
	wk.dec = policy.Decision{} // holds no state or rule alive while pooled
	h.work.Put(wk)
}

// authorized compares the bearer token in constant time (over digests, so that not even
// the token's length shows in the timing).
func (h *Handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[len(scheme):])))
	return subtle.ConstantTimeCompare(got[:], h.fixed.tokenDigest[:]) == 1
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use GET")
	return false
}

// writeError answers with an Error body. Errors are rare; their buffer is not pooled.
func writeError(w http.ResponseWriter, status int, msg string) {
	b := appendError(make([]byte, 0, 64+len(msg)), status, msg)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeBody answers with the JSON body b.
func (h *Handler) writeBody(w http.ResponseWriter, status int, b []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = h.fixed.json
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
