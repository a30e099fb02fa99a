package sdsbridge

import (
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Default reconnect delays: a returning Workload API is noticed within
// about two seconds even without the socket watch.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// backoff is a capped exponential backoff. It is not safe for concurrent
// use; each retry loop owns its own.
type backoff struct {
	min, max, next time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff {
	lo = min(lo, hi)
	return &backoff{min: lo, max: hi, next: lo}
}

// Next returns the delay before the next attempt and doubles it, up to max.
func (b *backoff) Next() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.max)
	return d
}

// Reset starts again from min.
func (b *backoff) Reset() { b.next = b.min }

// backoffStrategy gives go-spiffe's client our capped exponential backoff
// instead of its linear one (1s steps up to 30s), so that a Workload API
// that comes back is noticed quickly.
type backoffStrategy struct{ min, max time.Duration }

// NewBackoff implements workloadapi.BackoffStrategy.
func (s backoffStrategy) NewBackoff() workloadapi.Backoff { return newBackoff(s.min, s.max) }
