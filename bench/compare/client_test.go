package compare

import (
	"fmt"
	"sync"

	"github.com/mailtls/mailtls/internal/lab"
)

// askAll sends "mapName key" for every key to addr over conns connections, strict
// request→reply, and returns the replies by key.
func askAll(addr, mapName string, keys []string, conns int) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			c, err := lab.Dial(addr)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				for range work {
				}
				return
			}
			defer c.Close()
			for key := range work {
				reply, err := c.Ask(mapName, key)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s %s: %w", addr, key, err)
				}
				out[key] = reply
				mu.Unlock()
				if err != nil {
					for range work {
					}
					return
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	return out, firstErr
}
