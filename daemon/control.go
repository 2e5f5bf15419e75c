package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/mailtls/mailtls/policy"
)

// The control socket is a Unix socket (mode 0600) speaking a small JSON API over HTTP,
// through which `mailtls query` and `mailtls cache` reach the running daemon's hot store:
//
//	GET    /v1/query?profile=P&key=K   → QueryResponse
//	GET    /v1/cache?filter=F          → []policy.CacheEntry
//	GET    /v1/cache/{domain}          → policy.CacheEntry (404 when not cached)
//	DELETE /v1/cache/{domain}          → {"purged": n}
//	DELETE /v1/cache                   → {"purged": n}

// QueryResponse is a decision and the exact socketmap reply it gives.
type QueryResponse struct {
	Decision *policy.Decision `json:"decision"`
	Reply    string           `json:"reply"`
}

func listenControl(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := probeControl(path); err != nil {
		return nil, err // never remove a live daemon's socket
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path) // stale socket of a previous run
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

func controlHandler(d *Daemon, log *slog.Logger) http.Handler {
	p := d.parts
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if err := json.NewEncoder(w).Encode(v); err != nil {
			log.Debug("control: writing reply", "err", err)
		}
	}
	mux.HandleFunc("GET /v1/query", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("profile")
		prof, ok := (*d.profiles.Load())[name]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no profile %q", name)})
			return
		}
		d := p.Engine.Resolve(r.Context(), prof, r.URL.Query().Get("key"))
		writeJSON(w, http.StatusOK, QueryResponse{Decision: d, Reply: d.PostfixReply()})
	})
	mux.HandleFunc("GET /v1/cache", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Engine.CacheList(r.URL.Query().Get("filter")))
	})
	mux.HandleFunc("GET /v1/cache/{domain}", func(w http.ResponseWriter, r *http.Request) {
		e, ok := p.Engine.CacheShow(r.PathValue("domain"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not cached"})
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	purge := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"purged": p.Engine.Purge(r.Context(), r.PathValue("domain"))})
	}
	mux.HandleFunc("DELETE /v1/cache/{domain}", purge)
	mux.HandleFunc("DELETE /v1/cache", purge)
	return mux
}

// ErrNotRunning means no daemon answers on the control socket.
var ErrNotRunning = errors.New("no mailtls daemon on the control socket")

// ErrControlDenied means the control socket exists but this process may not connect to
// it: its mode admits only the daemon's user, so a daemon may well be running, and the
// caller must not act as if none were (resolving or editing the store on its own).
var ErrControlDenied = errors.New("not allowed to use the control socket")

// Control is a client of a running daemon's control socket.
type Control struct {
	Path string
	hc   *http.Client
}

// NewControl returns a client for the control socket at path.
func NewControl(path string) *Control {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Control{Path: path, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

// Call performs one API request and decodes the JSON reply into out.
func (c *Control) Call(ctx context.Context, method, path string, q url.Values, out any) error {
	u := "http://mailtls" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			if errors.Is(op.Err, os.ErrPermission) { // EACCES, EPERM
				return fmt.Errorf("%w %s (%v): a daemon may be running; run this as root or as the daemon's user",
					ErrControlDenied, c.Path, op.Err)
			}
			return fmt.Errorf("%w (%s): %v", ErrNotRunning, c.Path, op.Err)
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return &APIError{Status: resp.StatusCode, Msg: e.Error}
	}
	return json.Unmarshal(body, out)
}

// APIError is a non-200 answer of the control API.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string { return fmt.Sprintf("daemon: %s (HTTP %d)", e.Msg, e.Status) }
