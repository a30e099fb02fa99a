package unix

import (
	"sync"
	"time"
)

// nameTTL is how long a resolved user or group name is reused. Without the
// cache every Workload API call parses /etc/passwd and /etc/group (or asks
// NSS); with it a renamed user or group is seen within this delay.
const nameTTL = 10 * time.Second

// maxNames bounds a name cache; past it the cache starts over.
const maxNames = 1024

// nameCache remembers the results of one kind of name lookup (uid to user
// name, or gid to group name) for a short while, including failed ones: an
// id without a name stays nameless until the entry expires.
type nameCache struct {
	resolve func(id string) (name string, ok bool)
	ttl     time.Duration
	now     func() time.Time

	mu sync.Mutex
	m  map[string]cachedName
}

type cachedName struct {
	name    string
	ok      bool
	expires time.Time
}

func newNameCache(resolve func(string) (string, bool), ttl time.Duration, now func() time.Time) *nameCache {
	return &nameCache{resolve: resolve, ttl: ttl, now: now, m: make(map[string]cachedName)}
}

// lookup returns the name of id, reusing a result younger than the TTL.
func (c *nameCache) lookup(id string) (string, bool) {
	now := c.now()
	c.mu.Lock()
	n, hit := c.m[id]
	c.mu.Unlock()
	if hit && now.Before(n.expires) {
		return n.name, n.ok
	}
	name, ok := c.resolve(id)
	c.mu.Lock()
	if len(c.m) >= maxNames {
		clear(c.m)
	}
	c.m[id] = cachedName{name: name, ok: ok, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return name, ok
}
