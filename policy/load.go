package policy

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mailtls/mailtls/cache"
)

// Load fills the hot store from the persistent one, so a restarted daemon answers known
// domains at once, without network. Unreadable entries are skipped (and logged), never
// served.
func (e *Engine) Load(ctx context.Context) (int, error) {
	if e.opt.Backend == nil {
		return 0, nil
	}
	n := 0
	err := e.opt.Backend.Range(ctx, "", func(ent cache.Entry) bool {
		switch ent.Kind {
		case kindSTS:
			st, err := decodeState(ent, func(s *stsState) string { return s.Domain })
			if err != nil {
				e.opt.Logger.Warn("skipping unreadable cache entry", "kind", ent.Kind, "domain", ent.Key, "err", err)
				return true
			}
			en := &stsEntry{}
			en.state.Store(st)
			e.sts.Set(ent.Key, en)
		case kindDANE:
			st, err := decodeState(ent, func(s *daneState) string { return s.Domain })
			if err != nil {
				e.opt.Logger.Warn("skipping unreadable cache entry", "kind", ent.Kind, "domain", ent.Key, "err", err)
				return true
			}
			en := &daneEntry{}
			en.state.Store(st)
			e.dane.Set(ent.Key, en)
		default:
			return true
		}
		n++
		return true
	})
	return n, err
}

// decodeState reads a persisted state; one that does not parse, or names another domain
// than its key, is refused.
func decodeState[S any](ent cache.Entry, domainOf func(*S) string) (*S, error) {
	var st S
	if err := json.Unmarshal(ent.Value, &st); err != nil {
		return nil, err
	}
	if d := domainOf(&st); d != ent.Key {
		return nil, fmt.Errorf("entry for %q holds state of %q", ent.Key, d)
	}
	return &st, nil
}
