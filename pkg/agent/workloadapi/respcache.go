package workloadapi

import (
	"runtime"
	"sync"
	"weak"

	"google.golang.org/protobuf/proto"
)

// respKind names the kinds of response built from an Update.
type respKind uint8

const (
	kindX509SVID respKind = iota
	kindX509Bundles
	kindJWTBundles
)

type respKey struct {
	kind   respKind
	update weak.Pointer[Update]
}

// respCache remembers the response built from each Update, so that the
// many streams and short-lived calls that see the same Update (a cache
// hands one snapshot to all its subscribers) build it once: marshalling keys
// and concatenating certificates is the bulk of a warm FetchX509SVID on the
// server. Entries are keyed weakly and vanish when their Update is garbage
// collected. Updates are immutable snapshots, and a built response is only
// ever read (gRPC marshals it), so sharing it between streams is safe.
type respCache struct {
	mu sync.Mutex
	m  map[respKey]proto.Message
}

func newRespCache() *respCache {
	return &respCache{m: make(map[respKey]proto.Message)}
}

// get returns the cached response of kind for u, building it on a miss.
// Errors are not cached.
func (c *respCache) get(kind respKind, u *Update, build func(*Update) (proto.Message, error)) (proto.Message, error) {
	key := respKey{kind: kind, update: weak.Make(u)}
	c.mu.Lock()
	resp, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return resp, nil
	}
	resp, err := build(u)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.m[key]; ok {
		return cached, nil
	}
	c.m[key] = resp
	runtime.AddCleanup(u, c.forget, key)
	return resp, nil
}

// forget drops the entry of a collected Update.
func (c *respCache) forget(key respKey) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// len reports the number of cached responses.
func (c *respCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
