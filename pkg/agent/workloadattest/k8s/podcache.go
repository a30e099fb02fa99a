package k8s

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// podCache shares kubelet pod lists between attestations. When a node
// starts many workloads at once they all attest within milliseconds; one
// /pods request, reused for a short time, serves them all. Concurrent
// misses wait for the same request instead of each starting one.
type podCache struct {
	fetch func(context.Context) (*PodList, error)
	ttl   time.Duration
	now   func() time.Time

	group singleflight.Group

	mu         sync.Mutex
	list       *PodList
	validUntil time.Time
}

// get returns a pod list fetched at most ttl ago.
func (c *podCache) get(ctx context.Context) (*PodList, error) {
	if l := c.fresh(); l != nil {
		return l, nil
	}
	ch := c.group.DoChan("pods", func() (any, error) {
		if l := c.fresh(); l != nil {
			return l, nil
		}
		// The request is shared: one caller giving up must not fail the
		// others, so it runs without the caller's cancellation (the
		// kubelet client's own timeout still bounds it).
		l, err := c.fetch(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.list, c.validUntil = l, c.now().Add(c.ttl)
		c.mu.Unlock()
		return l, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*PodList), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *podCache) fresh() *PodList {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && c.now().Before(c.validUntil) {
		return c.list
	}
	return nil
}
