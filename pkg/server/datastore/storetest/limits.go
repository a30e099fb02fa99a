package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// manySelectors returns n distinct selectors.
func manySelectors(n int) selector.Set {
	out := make([]selector.Selector, n)
	for i := range out {
		out[i] = selector.Selector{Type: "unix", Value: fmt.Sprintf("uid:%d", i)}
	}
	return selector.NewSet(out...)
}

// testEntryLimits: an entry at the size limits is stored and read back;
// one beyond them is refused with an error naming the limit. Issue 10
// finding 6: an entry with 11,000 selectors used to fail deep in SQLite
// with "too many SQL variables".
func testEntryLimits(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	names := make([]string, datastore.MaxEntryDNSNames)
	for i := range names {
		names[i] = fmt.Sprintf("n%d.example.org", i)
	}
	atLimit := &datastore.Entry{
		SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a",
		Selectors: manySelectors(datastore.MaxEntrySelectors), DNSNames: names,
	}
	created, err := s.CreateEntry(ctx, atLimit)
	must(t, "CreateEntry at the limits", err)
	got, err := s.GetEntry(ctx, created.ID)
	must(t, "GetEntry", err)
	if len(got.Selectors) != datastore.MaxEntrySelectors || len(got.DNSNames) != datastore.MaxEntryDNSNames {
		t.Fatalf("read back %d selectors, %d DNS names", len(got.Selectors), len(got.DNSNames))
	}
	tests := []struct {
		name  string
		e     *datastore.Entry
		limit string
	}{
		{"selectors", &datastore.Entry{SPIFFEID: "spiffe://example.org/x", ParentID: "spiffe://example.org/a",
			Selectors: manySelectors(11_000)}, fmt.Sprintf("limit of %d", datastore.MaxEntrySelectors)},
		{"dns names", &datastore.Entry{SPIFFEID: "spiffe://example.org/x", ParentID: "spiffe://example.org/a",
			Selectors: manySelectors(1), DNSNames: append(names, "one.more.example.org")}, fmt.Sprintf("limit of %d", datastore.MaxEntryDNSNames)},
		{"selector length", &datastore.Entry{SPIFFEID: "spiffe://example.org/x", ParentID: "spiffe://example.org/a",
			Selectors: selector.Set{{Type: "k8s", Value: strings.Repeat("v", datastore.MaxSelectorLength)}}}, fmt.Sprintf("limit of %d", datastore.MaxSelectorLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateEntry(ctx, tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.limit) {
				t.Fatalf("CreateEntry = %v, want an error naming the %s", err, tt.limit)
			}
			upd := *created
			upd.Selectors, upd.DNSNames = tt.e.Selectors, tt.e.DNSNames
			if _, err := s.UpdateEntry(ctx, &upd); err == nil || !strings.Contains(err.Error(), tt.limit) {
				t.Fatalf("UpdateEntry = %v, want an error naming the %s", err, tt.limit)
			}
		})
	}
}

// testAgentManySelectors: an attestor decides how many selectors an agent
// carries; even 11,000 (beyond SQLite's variable limit in one INSERT) are
// stored.
func testAgentManySelectors(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	a := newAgent(t, "spiffe://example.org/spire/agent/many")
	a.Selectors = manySelectors(11_000)
	_, err := s.CreateAgent(ctx, a)
	must(t, "CreateAgent", err)
	got, err := s.GetAgent(ctx, a.SPIFFEID)
	must(t, "GetAgent", err)
	if len(got.Selectors) != len(a.Selectors) {
		t.Fatalf("read back %d selectors, want %d", len(got.Selectors), len(a.Selectors))
	}
}
