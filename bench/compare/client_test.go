package compare

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mailtls/mailtls/socketmap"
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
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				for range work {
				}
				return
			}
			defer c.Close()
			r := socketmap.NewReader(bufio.NewReader(c), 100000)
			for key := range work {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				var reply []byte
				_, err := c.Write(socketmap.AppendNetstring(nil, []byte(mapName+" "+key)))
				if err == nil {
					reply, err = r.Next()
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s %s: %w", addr, key, err)
				}
				out[key] = string(reply)
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
