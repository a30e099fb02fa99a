// Package backoff provides the capped exponential backoff every svidkit
// retry loop uses: the agent towards the server, and the helper and the SDS
// bridge towards the Workload API.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields the delays between attempts: min first, then doubling on
// each call up to max. A jittered Backoff shortens each delay by up to a
// fifth, at random, so that clients restarted together spread out. A
// Backoff is not safe for concurrent use; each retry loop owns its own.
//
// Its Next and Reset methods make it a go-spiffe workloadapi.Backoff.
type Backoff struct {
	min, max, next time.Duration
	jitter         bool
}

// New returns a Backoff from min to max without jitter. A min above max is
// returned once, then max.
func New(min, max time.Duration) *Backoff {
	return &Backoff{min: min, max: max, next: min}
}

// NewJittered returns a Backoff from min to max whose delays are each
// shortened by a random amount of up to a fifth.
func NewJittered(min, max time.Duration) *Backoff {
	b := New(min, max)
	b.jitter = true
	return b
}

// Next returns the delay before the next attempt and doubles the one after
// it, up to max.
func (b *Backoff) Next() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.max)
	if b.jitter {
		d -= rand.N(d/5 + 1)
	}
	return d
}

// Reset starts again from min, after a success.
func (b *Backoff) Reset() { b.next = b.min }
