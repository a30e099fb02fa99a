package server

import (
	"fmt"
	"maps"
	"testing"
)

// TestShardMapCopyOnWrite: an edit leaves its base as it was and yields
// the base with the edit's sets and deletes applied, counted.
func TestShardMapCopyOnWrite(t *testing.T) {
	e := editShards[int](nil)
	want := map[string]int{}
	for i := range 1000 {
		k := fmt.Sprint("k", i)
		e.set(k, i)
		want[k] = i
	}
	base := e.done()
	baseWant := maps.Clone(want)

	cases := []struct {
		name string
		edit func(e *shardEdit[int], want map[string]int)
	}{
		{"nothing", func(*shardEdit[int], map[string]int) {}},
		{"set new", func(e *shardEdit[int], w map[string]int) { e.set("new", -1); w["new"] = -1 }},
		{"replace", func(e *shardEdit[int], w map[string]int) { e.set("k5", 50); w["k5"] = 50 }},
		{"delete", func(e *shardEdit[int], w map[string]int) { e.delete("k7"); delete(w, "k7") }},
		{"delete absent", func(e *shardEdit[int], _ map[string]int) { e.delete("absent") }},
		{"delete all", func(e *shardEdit[int], w map[string]int) {
			for k := range maps.Clone(w) {
				e.delete(k)
				delete(w, k)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := maps.Clone(baseWant)
			e := editShards(base)
			tc.edit(e, w)
			got := e.done()
			if m := maps.Collect(got.all()); !maps.Equal(m, w) || got.len() != len(w) {
				t.Errorf("edited map = %d keys (len %d), want %d", len(m), got.len(), len(w))
			}
			if m := maps.Collect(base.all()); !maps.Equal(m, baseWant) || base.len() != len(baseWant) {
				t.Errorf("base changed by an edit: %d keys (len %d), want %d", len(m), base.len(), len(baseWant))
			}
			for k, v := range w {
				if g, ok := got.get(k); !ok || g != v {
					t.Errorf("get(%q) = %d, %t; want %d", k, g, ok, v)
				}
			}
		})
	}
}
