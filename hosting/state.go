package hosting

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mailtls/mailtls/mtasts"
)

// StateFile is the file in the state directory that remembers what each domain was
// served, for the safe change and removal procedure of RFC 8461 §8.3.
const StateFile = "hosting-state.json"

// DomainState is what a domain was last served and when removing it becomes safe.
type DomainState struct {
	ID     string      `json:"id"`
	Mode   mtasts.Mode `json:"mode"`
	MaxAge uint32      `json:"max_age"`
	Since  time.Time   `json:"since"`
	// SafeAfter is when every policy other than mode none that was ever served has
	// expired in senders' caches: the time each such policy stopped being served plus its
	// max_age, the latest of them (RFC 8461 §8.3). Zero when none was ever served.
	SafeAfter time.Time `json:"safe_after,omitzero"`
}

// RemovalSafe reports whether the domain's policy and records may be deleted at now:
// the served policy is mode none and every earlier policy has expired (RFC 8461 §8.3:
// "publish a new policy with mode none and a new id ... wait at least the max_age of the
// previous policy" before removing).
func (d DomainState) RemovalSafe(now time.Time) bool {
	return d.Mode == mtasts.ModeNone && !now.Before(d.SafeAfter)
}

// State is the persisted history of served policies. It is safe for concurrent use.
type State struct {
	path  string
	mu    sync.Mutex
	doms  map[string]DomainState
	dirty bool
}

// OpenState reads the state file in dir; a missing file is an empty state.
func OpenState(dir string) (*State, error) {
	s := &State{path: filepath.Join(dir, StateFile), doms: map[string]DomainState{}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("hosting state: %w", err)
	}
	var f struct {
		Domains map[string]DomainState `json:"domains"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("hosting state %s: %w", s.path, err)
	}
	if f.Domains != nil {
		s.doms = f.Domains
	}
	return s, nil
}

// Get returns a domain's state.
func (s *State) Get(domain string) (DomainState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.doms[domain]
	return d, ok
}

// Domains lists the domains with state, sorted.
func (s *State) Domains() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.doms))
}

// Served records that p is served from now on (p has a new id).
func (s *State) Served(p *Policy, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, had := s.doms[p.Domain]
	next := DomainState{ID: p.ID, Mode: p.Mode, MaxAge: p.MaxAge, Since: now, SafeAfter: prev.SafeAfter}
	if had && prev.Mode != mtasts.ModeNone {
		// Senders may have fetched the outgoing policy up to now and keep it max_age.
		next.SafeAfter = later(prev.SafeAfter, now.Add(time.Duration(prev.MaxAge)*time.Second))
	}
	s.doms[p.Domain] = next
	s.dirty = true
}

// Forget drops a domain whose removal is complete.
func (s *State) Forget(domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.doms, domain)
	s.dirty = true
}

// Save writes the state if it changed, atomically (write and rename).
func (s *State) Save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	data, err := json.MarshalIndent(struct {
		Domains map[string]DomainState `json:"domains"`
	}{s.doms}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("hosting state: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("hosting state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("hosting state: %w", err)
	}
	s.dirty = false
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
