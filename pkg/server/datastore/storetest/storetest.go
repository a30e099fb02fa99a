// Package storetest is the semantics suite every datastore.Store
// implementation must pass. An implementation's tests call Run with a
// function that opens a fresh, empty store; the suite exercises only the
// Store interface, so it states the contract in executable form.
//
// Beyond the Store doc comments, the suite fixes these details:
//   - returned entries are copies in stored form: Selectors sorted and
//     de-duplicated, FederatesWith sorted and de-duplicated, DNSNames in the
//     order given; RevisionNumber and CreatedAt are the store's, whatever the
//     caller passed;
//   - UpdateEntry onto another entry's SPIFFE ID, parent ID and selectors
//     fails with ErrAlreadyExists, like CreateEntry;
//   - agent and join-token times keep at least microsecond precision;
//   - a join token is still valid at exactly its ExpiresAt, and
//     PruneJoinTokens(before) keeps a token expiring exactly at before;
//   - invalid input (missing IDs, malformed selectors, a join token without
//     expiry, an unknown SelectorMatch) is an error, never a panic;
//   - an entry may federate only with trust domains that have a stored
//     bundle (ErrNoFederatedBundle), checked on create and update;
//   - DeleteBundle's modes act on the entries federating with the trust
//     domain in the same transaction; dissociated entries' revisions grow;
//   - a federation relationship's bundle is the trust domain's row among
//     the bundles: created or replaced with the relationship, kept when
//     the relationship is deleted;
//   - concurrent writers all succeed: lock contention is never surfaced;
//   - racing writers, through one store or two on one database
//     (RunShared), keep every invariant: UpdateBundle loses no append, a
//     ban racing a re-attestation stands, one of racing creates wins, a
//     join token is consumed once (AttestAgent included: one racing
//     attestation admits the agent), every entry write bumps the revision;
//   - every entry write, the entry changes of DeleteBundle included,
//     names the entries it changed in the change log (EntryChangesSince)
//     at the revision it bumped, in the same transaction, and every agent
//     write the agent in the agent change log (AgentChangesSince); refused
//     writes name nothing; a negative revision asks for the current
//     revision alone; each log keeps the latest revisions
//     (RunChangesPruning); the two logs pass the same cases (changes.go);
//   - EntryChangesSince reads the changed entries with the changes, in
//     the same snapshot, when they are complete and at most maxEntries.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Run runs the whole suite. open must return a new, empty store for each
// call and arrange for it to be closed (t.Cleanup); subtests run in
// parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) datastore.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Entries", entryTests},
		{"EntryChanges", entryChangeTests},
		{"ListEntries", filterTests},
		{"Agents", agentTests},
		{"AgentChanges", agentChangeTests},
		{"AttestAgent", attestTests},
		{"JoinTokens", joinTokenTests},
		{"Bundles", bundleTests},
		{"FederationRelationships", federationTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, open(t))
				})
			}
		})
	}
	t.Run("Concurrency", func(t *testing.T) {
		RunShared(t, func(t *testing.T) (datastore.Store, datastore.Store) {
			s := open(t)
			return s, s
		})
	})
}

// test is one named case of the suite.
type test struct {
	name string
	fn   func(t *testing.T, s datastore.Store)
}

// sel parses "type:value" selectors into a set, failing the test on error.
func sel(t *testing.T, ss ...string) selector.Set {
	t.Helper()
	out := make([]selector.Selector, 0, len(ss))
	for _, s := range ss {
		p, err := selector.Parse(s)
		if err != nil {
			t.Fatalf("bad test selector: %v", err)
		}
		out = append(out, p)
	}
	return selector.Set(out)
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

// federate stores a placeholder bundle for each trust domain, so that
// entries may federate with it.
func federate(t *testing.T, s datastore.Store, tds ...string) {
	t.Helper()
	for _, td := range tds {
		must(t, "SetBundle "+td, s.SetBundle(t.Context(), &datastore.Bundle{TrustDomain: td, Data: []byte(`{"keys":[]}`)}))
	}
}

// must fails the test on a non-nil error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// entryDiff describes how got differs from want ("" when equal); nil and
// empty slices are equal.
func entryDiff(got, want *datastore.Entry) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	norm := func(e *datastore.Entry) datastore.Entry {
		c := *e
		if len(c.Selectors) == 0 {
			c.Selectors = nil
		}
		if len(c.DNSNames) == 0 {
			c.DNSNames = nil
		}
		if len(c.FederatesWith) == 0 {
			c.FederatesWith = nil
		}
		return c
	}
	g, w := norm(got), norm(want)
	if reflect.DeepEqual(g, w) {
		return ""
	}
	return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
}

// entryIDs returns the IDs of es in order.
func entryIDs(es []*datastore.Entry) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// sortedStrings returns a sorted copy.
func sortedStrings(s []string) []string {
	return slices.Sorted(slices.Values(s))
}

// sprint formats v with its field names.
func sprint(v any) string { return fmt.Sprintf("%+v", v) }
