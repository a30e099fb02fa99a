package storetest

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// testEntryOwner: the owner mark is stored on create, returned by reads,
// kept by an update that passes another (or none), and filters lists.
func testEntryOwner(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	const mark = "k8s-registrar:demo:pods"
	owned, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://td/a", ParentID: "spiffe://td/p", Selectors: sel(t, "k8s:pod-uid:1"), Owner: mark})
	must(t, "CreateEntry owned", err)
	manual, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://td/b", ParentID: "spiffe://td/p", Selectors: sel(t, "unix:uid:1")})
	must(t, "CreateEntry manual", err)
	if owned.Owner != mark || manual.Owner != "" {
		t.Fatalf("created owners %q, %q; want %q, empty", owned.Owner, manual.Owner, mark)
	}
	got, err := s.GetEntry(ctx, owned.ID)
	must(t, "GetEntry", err)
	if got.Owner != mark {
		t.Fatalf("GetEntry owner = %q, want %q", got.Owner, mark)
	}
	for _, other := range []string{"", "someone-else"} {
		upd := *got
		upd.Hint = "h" + other
		upd.Owner = other
		u, err := s.UpdateEntry(ctx, &upd)
		must(t, "UpdateEntry", err)
		if u.Owner != mark {
			t.Fatalf("UpdateEntry with owner %q returned owner %q, want %q kept", other, u.Owner, mark)
		}
		got, err = s.GetEntry(ctx, owned.ID)
		must(t, "GetEntry", err)
		if got.Owner != mark {
			t.Fatalf("after UpdateEntry with owner %q, stored owner = %q, want %q", other, got.Owner, mark)
		}
	}
	list, err := s.ListEntries(ctx, datastore.EntryFilter{Owner: mark})
	must(t, "ListEntries", err)
	if len(list) != 1 || list[0].ID != owned.ID || list[0].Owner != mark {
		t.Fatalf("ListEntries(owner) = %v, want only %s", list, owned.ID)
	}
	all, err := s.ListEntries(ctx, datastore.EntryFilter{})
	must(t, "ListEntries", err)
	if len(all) != 2 {
		t.Fatalf("ListEntries() = %d entries, want 2", len(all))
	}
}
