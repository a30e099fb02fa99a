package server

import (
	"slices"
	"strings"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
)

// authorizedSet is the set of entries one agent may mint SVIDs for.
type authorizedSet struct {
	// selectors are the agent selectors the set was computed for.
	selectors selector.Set
	// validUntil is the earliest expiry among the included entries; the set
	// must be recomputed after it.
	validUntil time.Time
	// parents are the parent IDs whose entry lists the set was computed
	// from: the agent's, the server's (node entries) and the SPIFFE IDs
	// of the entries reached. The set stays valid while those lists do.
	parents map[string]bool
	entries []*cachedEntry // ordered by entry ID
	byID    map[string]*cachedEntry
	// index is each entry's position in entries.
	index map[string]int
	// responses are the API messages built from the set, on first use.
	responses setResponses
	// digest identifies the set's content, computed on first use.
	digest setDigest
	// federated are the trust domains the entries federate with, computed
	// on first use.
	federated setFederated
}

// authorizedFor returns the entries the agent with the given ID and node
// selectors is authorized for, memoised per snapshot (a set memoised by a
// snapshot this one was built from is taken over while still valid, see
// inherited).
//
// An agent is authorized for entries parented to its own ID, for node
// entries (parented to the server ID) whose selectors are a subset of its
// selectors, and transitively for entries parented to the SPIFFE ID of any
// authorized entry. Expired entries are excluded.
func (s *entrySnapshot) authorizedFor(agentID, serverID string, sels selector.Set, now time.Time) *authorizedSet {
	s.mu.Lock()
	cached := s.agents[agentID]
	s.mu.Unlock()
	adopt := false
	if cached == nil {
		cached, adopt = s.inherited(agentID), true
	}
	if cached != nil && slices.Equal(cached.selectors, sels) && (cached.validUntil.IsZero() || now.Before(cached.validUntil)) {
		if adopt {
			s.mu.Lock()
			if s.agents[agentID] == nil {
				s.agents[agentID] = cached
			}
			s.mu.Unlock()
		}
		return cached
	}
	set := s.computeAuthorized(agentID, serverID, sels, now)
	set.selectors = slices.Clone(sels)
	s.mu.Lock()
	s.agents[agentID] = set
	s.mu.Unlock()
	return set
}

func (s *entrySnapshot) computeAuthorized(agentID, serverID string, sels selector.Set, now time.Time) *authorizedSet {
	set := &authorizedSet{byID: make(map[string]*cachedEntry)}
	unix := now.Unix()
	add := func(ce *cachedEntry) bool {
		if ce.entry.ExpiresAt != 0 && ce.entry.ExpiresAt <= unix {
			return false
		}
		if _, ok := set.byID[ce.entry.ID]; ok {
			return false
		}
		set.byID[ce.entry.ID] = ce
		if ce.entry.ExpiresAt != 0 {
			exp := time.Unix(ce.entry.ExpiresAt, 0)
			if set.validUntil.IsZero() || exp.Before(set.validUntil) {
				set.validUntil = exp
			}
		}
		return true
	}

	visited := map[string]bool{agentID: true}
	queue := []string{agentID}
	nodes, _ := s.byParent.get(serverID)
	for _, ce := range nodes {
		if ce.entry.Selectors.IsSubsetOf(sels) && add(ce) && !visited[ce.entry.SPIFFEID] {
			visited[ce.entry.SPIFFEID] = true
			queue = append(queue, ce.entry.SPIFFEID)
		}
	}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		children, _ := s.byParent.get(parent)
		for _, ce := range children {
			if add(ce) && !visited[ce.entry.SPIFFEID] {
				visited[ce.entry.SPIFFEID] = true
				queue = append(queue, ce.entry.SPIFFEID)
			}
		}
	}
	// After the walk: the server ID must not stop it (an entry may carry
	// the server's SPIFFE ID).
	visited[serverID] = true
	set.parents = visited
	set.entries = make([]*cachedEntry, 0, len(set.byID))
	for _, ce := range set.byID {
		set.entries = append(set.entries, ce)
	}
	slices.SortFunc(set.entries, func(a, b *cachedEntry) int { return strings.Compare(a.entry.ID, b.entry.ID) })
	set.index = make(map[string]int, len(set.entries))
	for i, ce := range set.entries {
		set.index[ce.entry.ID] = i
	}
	return set
}
