package helper

import (
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Backoff bounds for reconnecting to the Workload API.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// backoff is a capped exponential backoff. It is not safe for concurrent
// use; each retry loop owns its own.
type backoff struct {
	min, max, next time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, next: min}
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
// instead of its linear one (1s steps up to 30s), so a Workload API that
// comes back is noticed within 2s.
type backoffStrategy struct{}

// NewBackoff implements workloadapi.BackoffStrategy.
func (backoffStrategy) NewBackoff() workloadapi.Backoff { return newBackoff(minBackoff, maxBackoff) }
