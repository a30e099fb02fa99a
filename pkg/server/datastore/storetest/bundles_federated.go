package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

func testBundleCreate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	must(t, "CreateBundle", s.CreateBundle(ctx, &datastore.Bundle{TrustDomain: "example.org", Data: []byte("1")}))
	wantErr(t, "CreateBundle twice", s.CreateBundle(ctx, &datastore.Bundle{TrustDomain: "example.org", Data: []byte("2")}), datastore.ErrAlreadyExists)
	got, err := s.GetBundle(ctx, "example.org")
	must(t, "GetBundle", err)
	if string(got.Data) != "1" {
		t.Errorf("bundle data %q after a refused create, want the first %q", got.Data, "1")
	}
	if err := s.CreateBundle(ctx, &datastore.Bundle{TrustDomain: "x.example"}); err == nil {
		t.Error("CreateBundle without data succeeded, want a validation error")
	}
}

// testBundleDeleteModes: RESTRICT refuses while entries federate with the
// trust domain and changes nothing; DISSOCIATE removes it from them and
// advances their revisions; DELETE deletes them. Entries federating with
// other trust domains only are untouched in every mode.
func testBundleDeleteModes(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	federate(t, s, "gone.example", "kept.example")
	mk := func(id string, tds ...string) {
		t.Helper()
		_, err := s.CreateEntry(ctx, &datastore.Entry{ID: id, SPIFFEID: "spiffe://example.org/" + id,
			ParentID: "spiffe://example.org/agent", Selectors: sel(t, "unix:uid:1"), FederatesWith: tds})
		must(t, "CreateEntry "+id, err)
	}
	mk("both", "gone.example", "kept.example")
	mk("only", "gone.example")
	mk("other", "kept.example")

	err := s.DeleteBundle(ctx, "gone.example", datastore.DeleteRestrict)
	wantErr(t, "DeleteBundle restrict", err, datastore.ErrInUse)
	if _, err := s.GetBundle(ctx, "gone.example"); err != nil {
		t.Fatalf("bundle gone after a refused restrict delete: %v", err)
	}

	rev, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	must(t, "DeleteBundle dissociate", s.DeleteBundle(ctx, "gone.example", datastore.DeleteDissociate))
	if after, err := s.EntriesRevision(ctx); err != nil || after == rev {
		t.Errorf("EntriesRevision %d → %d (%v) across a dissociate, want a change", rev, after, err)
	}
	for id, want := range map[string][]string{"both": {"kept.example"}, "only": nil, "other": {"kept.example"}} {
		e, err := s.GetEntry(ctx, id)
		must(t, "GetEntry "+id, err)
		if !slices.Equal(e.FederatesWith, want) {
			t.Errorf("entry %s federates with %v after dissociate, want %v", id, e.FederatesWith, want)
		}
		if wantRev := int64(1); id != "other" && e.RevisionNumber != wantRev {
			t.Errorf("entry %s revision %d after dissociate, want %d", id, e.RevisionNumber, wantRev)
		}
		if id == "other" && e.RevisionNumber != 0 {
			t.Errorf("untouched entry revision %d, want 0", e.RevisionNumber)
		}
	}
	_, err = s.GetBundle(ctx, "gone.example")
	wantErr(t, "GetBundle after dissociate", err, datastore.ErrNotFound)

	must(t, "DeleteBundle delete", s.DeleteBundle(ctx, "kept.example", datastore.DeleteEntries))
	list, err := s.ListEntries(ctx, datastore.EntryFilter{})
	must(t, "ListEntries", err)
	if got := entryIDs(list); !slices.Equal(got, []string{"only"}) {
		t.Errorf("entries after delete mode: %v, want only the one no longer federating", got)
	}
	wantErr(t, "DeleteBundle of a missing bundle", s.DeleteBundle(ctx, "kept.example", datastore.DeleteEntries), datastore.ErrNotFound)
}

// testEntryNeedsFederatedBundle: as in SPIRE, an entry cannot federate with
// a trust domain whose bundle is not stored; the error names it.
func testEntryNeedsFederatedBundle(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	federate(t, s, "known.example")
	e := &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/agent",
		Selectors: sel(t, "unix:uid:1"), FederatesWith: []string{"known.example", "unknown.example"}}
	_, err := s.CreateEntry(ctx, e)
	wantErr(t, "CreateEntry", err, datastore.ErrNoFederatedBundle)
	if !strings.Contains(err.Error(), `"unknown.example"`) {
		t.Errorf("error %q does not name the trust domain", err)
	}
	if n, err := s.CountEntries(ctx); err != nil || n != 0 {
		t.Fatalf("CountEntries = %d, %v after a refused create, want 0", n, err)
	}
	e.FederatesWith = []string{"known.example"}
	created, err := s.CreateEntry(ctx, e)
	must(t, "CreateEntry", err)
	created.FederatesWith = []string{"unknown.example"}
	_, err = s.UpdateEntry(ctx, created)
	wantErr(t, "UpdateEntry", err, datastore.ErrNoFederatedBundle)
	if errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("UpdateEntry error %v also matches ErrNotFound", err)
	}
	got, err := s.GetEntry(ctx, created.ID)
	must(t, "GetEntry", err)
	if !slices.Equal(got.FederatesWith, []string{"known.example"}) || got.RevisionNumber != 0 {
		t.Errorf("entry after a refused update: %+v", got)
	}
}
