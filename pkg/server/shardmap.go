package server

import (
	"iter"
	"maps"
)

// shardCount is the number of shards of a shardMap: a copy with one key
// changed copies about 1/shardCount of the map.
const shardCount = 256

// shardMap is a string-keyed map split into shards by key hash, so that
// an entry snapshot built from the previous one copies only the shards its
// changes touch instead of every key (a copy of 100,000 pointers costs
// milliseconds per change; see BenchmarkEntrySnapshotApply). A shardMap is
// never modified once built; shardEdit builds one.
type shardMap[V any] struct {
	shards [shardCount]map[string]V
	n      int
}

// shardOf returns the shard of key k (FNV-1a).
func shardOf(k string) int {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

// get returns the value of k.
func (m *shardMap[V]) get(k string) (V, bool) {
	v, ok := m.shards[shardOf(k)][k]
	return v, ok
}

// len returns the number of keys.
func (m *shardMap[V]) len() int { return m.n }

// all yields every key and value, in no set order.
func (m *shardMap[V]) all() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, s := range m.shards {
			for k, v := range s {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// shardEdit builds a new shardMap from a base one, which it never
// modifies: a shard is copied on its first change.
type shardEdit[V any] struct {
	m   *shardMap[V]
	own [shardCount]bool
}

// editShards starts a shardMap equal to base (empty when base is nil).
func editShards[V any](base *shardMap[V]) *shardEdit[V] {
	m := new(shardMap[V])
	if base != nil {
		*m = *base
	}
	return &shardEdit[V]{m: m}
}

// shard returns k's shard, copied from the base on first use.
func (e *shardEdit[V]) shard(k string) map[string]V {
	i := shardOf(k)
	if !e.own[i] {
		s := make(map[string]V, len(e.m.shards[i])+1)
		maps.Copy(s, e.m.shards[i])
		e.m.shards[i] = s
		e.own[i] = true
	}
	return e.m.shards[i]
}

// get returns the value of k in the map being built.
func (e *shardEdit[V]) get(k string) (V, bool) { return e.m.get(k) }

// set sets k to v.
func (e *shardEdit[V]) set(k string, v V) {
	s := e.shard(k)
	if _, ok := s[k]; !ok {
		e.m.n++
	}
	s[k] = v
}

// delete removes k.
func (e *shardEdit[V]) delete(k string) {
	if _, ok := e.m.get(k); !ok {
		return
	}
	delete(e.shard(k), k)
	e.m.n--
}

// done returns the built map; the edit must not be used after.
func (e *shardEdit[V]) done() *shardMap[V] {
	m := e.m
	e.m = nil
	return m
}
