package unix

import (
	"context"
	"os"
	"sync"

	"github.com/svidkit/svidkit/pkg/procid"
)

// fileKey identifies one version of a file: a digest stays valid while all
// of these are unchanged.
type fileKey struct {
	path     string
	dev, ino uint64
	size     int64
	mtimeNS  int64
}

func keyOf(path string, fi os.FileInfo) fileKey {
	id := procid.FileIDOf(fi)
	return fileKey{path: path, dev: id.Dev, ino: id.Ino, size: fi.Size(), mtimeNS: fi.ModTime().UnixNano()}
}

// hashCache remembers digests by fileKey. Concurrent requests for the same
// key share one computation.
type hashCache struct {
	max int

	mu       sync.Mutex
	sums     map[fileKey]string
	inflight map[fileKey]*hashCall
}

type hashCall struct {
	done chan struct{}
	sum  string
	err  error
}

func newHashCache(max int) *hashCache {
	return &hashCache{
		max:      max,
		sums:     make(map[fileKey]string),
		inflight: make(map[fileKey]*hashCall),
	}
}

// get returns the digest for key, running compute in the caller's goroutine
// on a miss unless another caller is already computing it.
func (c *hashCache) get(ctx context.Context, key fileKey, compute func() (string, error)) (string, error) {
	c.mu.Lock()
	if sum, ok := c.sums[key]; ok {
		c.mu.Unlock()
		return sum, nil
	}
	if call, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.sum, call.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	call := &hashCall{done: make(chan struct{})}
	c.inflight[key] = call
	c.mu.Unlock()

	call.sum, call.err = compute()

	c.mu.Lock()
	delete(c.inflight, key)
	if call.err == nil {
		if len(c.sums) >= c.max {
			// Evict an arbitrary entry: executables on a host are few, so
			// the bound only matters against churn from rebuilt binaries.
			for k := range c.sums {
				delete(c.sums, k)
				break
			}
		}
		c.sums[key] = call.sum
	}
	c.mu.Unlock()
	close(call.done)
	return call.sum, call.err
}
