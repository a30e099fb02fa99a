package cache

import (
	"slices"
	"testing"
)

// keys lists c's keys, most recently used first.
func (c *lru[K, V]) keys() []K {
	var out []K
	for el := c.order.Front(); el != nil; el = el.Next() {
		out = append(out, el.Value.(*lruItem[K, V]).key)
	}
	return out
}

func TestLRU(t *testing.T) {
	tests := []struct {
		name string
		max  int
		ops  func(c *lru[string, int])
		want []string
	}{
		{"below the size nothing is dropped", 3, func(c *lru[string, int]) {
			c.add("a", 1)
			c.add("b", 2)
		}, []string{"b", "a"}},
		{"the least recently added is dropped", 2, func(c *lru[string, int]) {
			c.add("a", 1)
			c.add("b", 2)
			c.add("c", 3)
		}, []string{"c", "b"}},
		{"get makes an entry recent", 2, func(c *lru[string, int]) {
			c.add("a", 1)
			c.add("b", 2)
			c.get("a")
			c.add("c", 3)
		}, []string{"c", "a"}},
		{"replacing makes an entry recent and keeps the size", 2, func(c *lru[string, int]) {
			c.add("a", 1)
			c.add("b", 2)
			c.add("a", 10)
			c.add("c", 3)
		}, []string{"c", "a"}},
		{"deleteFunc", 4, func(c *lru[string, int]) {
			for i, k := range []string{"a", "b", "c", "d"} {
				c.add(k, i)
			}
			c.deleteFunc(func(_ string, v int) bool { return v%2 == 0 })
		}, []string{"d", "b"}},
		{"a size below one holds one", 0, func(c *lru[string, int]) {
			c.add("a", 1)
			c.add("b", 2)
		}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newLRU[string, int](tt.max)
			tt.ops(c)
			if got := c.keys(); !slices.Equal(got, tt.want) || c.len() != len(tt.want) || len(c.items) != len(tt.want) {
				t.Fatalf("keys %v (len %d, map %d), want %v", got, c.len(), len(c.items), tt.want)
			}
		})
	}
}
