package cache

import "container/list"

// lru is a map holding at most max entries: adding one more drops the
// least recently used. It is not safe for concurrent use. No LRU library
// is among svidkit's dependencies, and this is all the JWT-SVID cache
// needs.
type lru[K comparable, V any] struct {
	max   int
	order *list.List // of *lruItem[K, V], most recently used first
	items map[K]*list.Element
}

type lruItem[K comparable, V any] struct {
	key K
	val V
}

// newLRU returns an empty lru holding at most size (at least one) entries.
func newLRU[K comparable, V any](size int) *lru[K, V] {
	return &lru[K, V]{max: max(size, 1), order: list.New(), items: make(map[K]*list.Element)}
}

// get returns the value of k and marks it used.
func (c *lru[K, V]) get(k K) (V, bool) {
	el, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruItem[K, V]).val, true
}

// add sets the value of k, marks it used and drops the least recently used
// entry when there are more than max.
func (c *lru[K, V]) add(k K, v V) {
	if el, ok := c.items[k]; ok {
		el.Value.(*lruItem[K, V]).val = v
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&lruItem[K, V]{key: k, val: v})
	if c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*lruItem[K, V]).key)
	}
}

// deleteFunc drops every entry for which drop reports true.
func (c *lru[K, V]) deleteFunc(drop func(K, V) bool) {
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if it := el.Value.(*lruItem[K, V]); drop(it.key, it.val) {
			c.order.Remove(el)
			delete(c.items, it.key)
		}
		el = next
	}
}

// len reports the number of entries.
func (c *lru[K, V]) len() int { return c.order.Len() }
