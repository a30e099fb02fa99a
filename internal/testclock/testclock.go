// Package testclock is the settable clock that tests inject wherever
// production code takes a clock (CA rotation, SVID expiry, agent renewal,
// the agent cache), so that tests drive time instead of sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a manual clock: Now returns the time it was last set to. It is
// safe for concurrent use, so the code under test may read it from its own
// goroutines while the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (backwards too).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
