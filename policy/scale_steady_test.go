package policy

import (
	"fmt"
	"sync"
	"time"

	"github.com/mailtls/mailtls/internal/lab"
)

// The steady state of the scale measurement: under traffic every domain is asked for, and
// the hot store then holds what a lookup builds on first use (rendered answers) as well as
// what Load filled in. queryAll asks the daemon for every scale domain once.

// scaleSteadyConns is how many connections queryAll spreads the domains over.
const scaleSteadyConns = 4

// queryAll asks the socketmap server at addr for every one of the n scale domains once,
// over scaleSteadyConns connections that each send their requests one after another (as
// Postfix reuses a connection), checks every answer, and returns the time it took.
func queryAll(addr string, n int) (time.Duration, error) {
	start := time.Now()
	errs := make(chan error, scaleSteadyConns)
	var wg sync.WaitGroup
	for w := range scaleSteadyConns {
		wg.Go(func() {
			if err := querySome(addr, w, n); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// querySome asks for the domains w, w+scaleSteadyConns, … below n on one connection.
func querySome(addr string, w, n int) error {
	c, err := lab.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := w; i < n; i += scaleSteadyConns {
		reply, err := c.Ask("postfix", scaleDomain(i))
		if err != nil {
			return fmt.Errorf("%s: %w", scaleDomain(i), err)
		}
		if want := scaleReply(i); reply != want {
			return fmt.Errorf("%s: %q, want %q", scaleDomain(i), reply, want)
		}
	}
	return nil
}
