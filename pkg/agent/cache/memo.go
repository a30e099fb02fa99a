package cache

import (
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// maxMemoUpdates bounds the memoized updates; past it the memo starts over.
// It only needs to hold the selector sets of the workloads calling between
// two changes.
const maxMemoUpdates = 1024

// updateFor returns the update of a workload with selectors sels, building
// it only the first time these selectors are seen since the last change.
// Workloads with the same selectors (every call of one workload, replicas
// of a program) thus share one *Update, and the Workload API, which caches
// the response built from an Update, encodes it once. The caller holds
// c.mu.
func (c *Cache) updateFor(sels selector.Set) *workloadapi.Update {
	c.keyBuf = appendSetKey(c.keyBuf[:0], sels)
	if u, ok := c.updates[string(c.keyBuf)]; ok {
		return u
	}
	u := c.buildUpdate(sels)
	if len(c.updates) >= maxMemoUpdates {
		clear(c.updates)
	}
	c.updates[string(c.keyBuf)] = u
	return u
}

// changed forgets the memoized updates; every change that an update can
// reflect (entries, SVIDs, bundles) calls it before notifying. The caller
// holds c.mu.
func (c *Cache) changed() {
	clear(c.updates)
}

// appendSetKey appends an unambiguous encoding of a sorted selector set:
// each type and value is length-prefixed.
func appendSetKey(b []byte, sels selector.Set) []byte {
	for _, s := range sels {
		b = appendLenString(b, s.Type)
		b = appendLenString(b, s.Value)
	}
	return b
}

func appendLenString(b []byte, s string) []byte {
	n := len(s)
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	b = append(b, byte(n))
	return append(b, s...)
}
