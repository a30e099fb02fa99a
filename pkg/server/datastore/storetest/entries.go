package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var entryTests = []test{
	{"SizeLimits", testEntryLimits},
	{"CreateGetRoundTrip", testEntryRoundTrip},
	{"CreateAssignsUUID", testEntryAssignsUUID},
	{"CreateKeepsGivenID", testEntryKeepsGivenID},
	{"CreateDuplicateIdentity", testEntryDuplicateIdentity},
	{"CreateInvalid", testEntryInvalid},
	{"Update", testEntryUpdate},
	{"UpdateToDuplicateIdentity", testEntryUpdateDuplicate},
	{"Delete", testEntryDelete},
	{"NotFound", testEntryNotFound},
	{"EntriesRevision", testEntriesRevision},
	{"Count", testEntryCount},
	{"ConcurrentCreate", testEntryConcurrentCreate},
	{"Owner", testEntryOwner},
}

// fullEntry sets every field a caller may set, storing the bundles of the
// trust domains it federates with.
func fullEntry(t *testing.T, s datastore.Store) *datastore.Entry {
	federate(t, s, "partner.example", "other.example")
	return &datastore.Entry{
		SPIFFEID: "spiffe://example.org/web",
		ParentID: "spiffe://example.org/spire/agent/join_token/abc",
		// Unsorted with a duplicate: the store sorts and de-duplicates.
		Selectors:     sel(t, "unix:uid:1000", "k8s:ns:prod", "unix:uid:1000", "docker:label:a:b"),
		X509SVIDTTL:   3600,
		JWTSVIDTTL:    300,
		DNSNames:      []string{"web.example.org", "a.example.org", "web.internal"},
		Hint:          "web",
		Admin:         true,
		Downstream:    true,
		FederatesWith: []string{"partner.example", "other.example"},
		ExpiresAt:     1_900_000_000,
	}
}

func testEntryRoundTrip(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	in := fullEntry(t, s)
	before := time.Now().Unix()
	created, err := s.CreateEntry(ctx, in)
	must(t, "CreateEntry", err)
	after := time.Now().Unix()

	want := *in
	want.ID = created.ID
	want.Selectors = sel(t, "docker:label:a:b", "k8s:ns:prod", "unix:uid:1000")
	want.FederatesWith = []string{"other.example", "partner.example"}
	want.CreatedAt = created.CreatedAt
	if created.CreatedAt < before || created.CreatedAt > after {
		t.Errorf("CreatedAt = %d, want within [%d, %d]", created.CreatedAt, before, after)
	}
	if created.RevisionNumber != 0 {
		t.Errorf("RevisionNumber = %d, want 0", created.RevisionNumber)
	}
	if d := entryDiff(created, &want); d != "" {
		t.Errorf("CreateEntry returned %s", d)
	}
	got, err := s.GetEntry(ctx, created.ID)
	must(t, "GetEntry", err)
	if d := entryDiff(got, &want); d != "" {
		t.Errorf("GetEntry returned %s", d)
	}
	list, err := s.ListEntries(ctx, datastore.EntryFilter{})
	must(t, "ListEntries", err)
	if len(list) != 1 {
		t.Fatalf("ListEntries returned %d entries, want 1", len(list))
	}
	if d := entryDiff(list[0], &want); d != "" {
		t.Errorf("ListEntries returned %s", d)
	}
}

func testEntryAssignsUUID(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	ids := map[string]bool{}
	for i := range 3 {
		e := &datastore.Entry{SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")}
		got, err := s.CreateEntry(ctx, e)
		must(t, "CreateEntry", err)
		if _, err := uuid.Parse(got.ID); err != nil {
			t.Errorf("assigned ID %q is not a UUID: %v", got.ID, err)
		}
		ids[got.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("assigned IDs %v are not distinct", ids)
	}
}

func testEntryKeepsGivenID(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	e := &datastore.Entry{ID: "my-entry", SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")}
	got, err := s.CreateEntry(ctx, e)
	must(t, "CreateEntry", err)
	if got.ID != "my-entry" {
		t.Fatalf("ID = %q, want my-entry", got.ID)
	}
	other := &datastore.Entry{ID: "my-entry", SPIFFEID: "spiffe://example.org/x", ParentID: "spiffe://example.org/b", Selectors: sel(t, "unix:uid:2")}
	_, err = s.CreateEntry(ctx, other)
	wantErr(t, "CreateEntry with a taken ID", err, datastore.ErrAlreadyExists)
}

func testEntryDuplicateIdentity(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	base := &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1", "unix:gid:1")}
	_, err := s.CreateEntry(ctx, base)
	must(t, "CreateEntry", err)
	tests := []struct {
		name    string
		e       *datastore.Entry
		wantErr error
	}{
		{"same selectors reordered", &datastore.Entry{SPIFFEID: base.SPIFFEID, ParentID: base.ParentID, Selectors: sel(t, "unix:gid:1", "unix:uid:1", "unix:gid:1"), Hint: "different"}, datastore.ErrAlreadyExists},
		{"different parent", &datastore.Entry{SPIFFEID: base.SPIFFEID, ParentID: "spiffe://example.org/b", Selectors: base.Selectors}, nil},
		{"different spiffe id", &datastore.Entry{SPIFFEID: "spiffe://example.org/v", ParentID: base.ParentID, Selectors: base.Selectors}, nil},
		{"fewer selectors", &datastore.Entry{SPIFFEID: base.SPIFFEID, ParentID: base.ParentID, Selectors: sel(t, "unix:uid:1")}, nil},
		{"more selectors", &datastore.Entry{SPIFFEID: base.SPIFFEID, ParentID: base.ParentID, Selectors: sel(t, "unix:uid:1", "unix:gid:1", "unix:gid:2")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateEntry(ctx, tt.e)
			if tt.wantErr == nil {
				must(t, "CreateEntry", err)
				return
			}
			wantErr(t, "CreateEntry", err, tt.wantErr)
		})
	}
	n, err := s.CountEntries(ctx)
	must(t, "CountEntries", err)
	if n != 5 {
		t.Errorf("CountEntries = %d, want 5", n)
	}
}

func testEntryInvalid(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		e    *datastore.Entry
	}{
		{"nil", nil},
		{"no spiffe id", &datastore.Entry{ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")}},
		{"no parent id", &datastore.Entry{SPIFFEID: "spiffe://example.org/w", Selectors: sel(t, "unix:uid:1")}},
		{"bad selector", &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: selector.Set{{Type: "unix"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.CreateEntry(ctx, tt.e); err == nil {
				t.Fatal("CreateEntry succeeded, want a validation error")
			}
		})
	}
	n, err := s.CountEntries(ctx)
	must(t, "CountEntries", err)
	if n != 0 {
		t.Errorf("CountEntries = %d after invalid creates, want 0", n)
	}
}

func testEntryUpdate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	federate(t, s, "old.example")
	created, err := s.CreateEntry(ctx, &datastore.Entry{
		SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a",
		Selectors: sel(t, "unix:uid:1"), DNSNames: []string{"old"}, FederatesWith: []string{"old.example"},
	})
	must(t, "CreateEntry", err)

	for rev := int64(1); rev <= 2; rev++ {
		upd := fullEntry(t, s)
		upd.ID = created.ID
		upd.SPIFFEID = fmt.Sprintf("spiffe://example.org/w%d", rev)
		upd.RevisionNumber = 99 // ignored: the store owns revisions
		upd.CreatedAt = 1       // ignored: the store owns CreatedAt
		got, err := s.UpdateEntry(ctx, upd)
		must(t, "UpdateEntry", err)

		want := *upd
		want.Selectors = sel(t, "docker:label:a:b", "k8s:ns:prod", "unix:uid:1000")
		want.FederatesWith = []string{"other.example", "partner.example"}
		want.RevisionNumber = rev
		want.CreatedAt = created.CreatedAt
		if d := entryDiff(got, &want); d != "" {
			t.Errorf("update %d: UpdateEntry returned %s", rev, d)
		}
		stored, err := s.GetEntry(ctx, created.ID)
		must(t, "GetEntry", err)
		if d := entryDiff(stored, &want); d != "" {
			t.Errorf("update %d: GetEntry returned %s", rev, d)
		}
	}
	// Clearing the list fields must remove the old rows.
	cleared := &datastore.Entry{ID: created.ID, SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")}
	_, err = s.UpdateEntry(ctx, cleared)
	must(t, "UpdateEntry", err)
	stored, err := s.GetEntry(ctx, created.ID)
	must(t, "GetEntry", err)
	if len(stored.DNSNames) != 0 || len(stored.FederatesWith) != 0 || stored.Admin || stored.Hint != "" {
		t.Errorf("after clearing update, entry = %+v", stored)
	}
	if stored.RevisionNumber != 3 {
		t.Errorf("RevisionNumber = %d, want 3", stored.RevisionNumber)
	}
}

func testEntryUpdateDuplicate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	a, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")})
	must(t, "CreateEntry", err)
	b, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:2")})
	must(t, "CreateEntry", err)
	_, err = s.UpdateEntry(ctx, &datastore.Entry{ID: b.ID, SPIFFEID: a.SPIFFEID, ParentID: a.ParentID, Selectors: a.Selectors})
	wantErr(t, "UpdateEntry onto another entry's identity", err, datastore.ErrAlreadyExists)
	// Updating an entry without changing its identity is not a collision.
	_, err = s.UpdateEntry(ctx, &datastore.Entry{ID: a.ID, SPIFFEID: a.SPIFFEID, ParentID: a.ParentID, Selectors: a.Selectors, Hint: "x"})
	must(t, "UpdateEntry keeping identity", err)
	got, err := s.GetEntry(ctx, b.ID)
	must(t, "GetEntry", err)
	if d := entryDiff(got, b); d != "" {
		t.Errorf("failed update changed the entry: %s", d)
	}
}

func testEntryDelete(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	created, err := s.CreateEntry(ctx, fullEntry(t, s))
	must(t, "CreateEntry", err)
	deleted, err := s.DeleteEntry(ctx, created.ID)
	must(t, "DeleteEntry", err)
	if d := entryDiff(deleted, created); d != "" {
		t.Errorf("DeleteEntry returned %s", d)
	}
	_, err = s.GetEntry(ctx, created.ID)
	wantErr(t, "GetEntry after delete", err, datastore.ErrNotFound)
	_, err = s.DeleteEntry(ctx, created.ID)
	wantErr(t, "DeleteEntry twice", err, datastore.ErrNotFound)
	// The identity is free again.
	_, err = s.CreateEntry(ctx, fullEntry(t, s))
	must(t, "CreateEntry after delete", err)
}

func testEntryNotFound(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{"get", func(ctx context.Context) error { _, err := s.GetEntry(ctx, "missing"); return err }},
		{"update", func(ctx context.Context) error {
			_, err := s.UpdateEntry(ctx, &datastore.Entry{ID: "missing", SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")})
			return err
		}},
		{"delete", func(ctx context.Context) error { _, err := s.DeleteEntry(ctx, "missing"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, tt.call(ctx), datastore.ErrNotFound)
		})
	}
}

func testEntriesRevision(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	last, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	step := func(what string) {
		t.Helper()
		rev, err := s.EntriesRevision(ctx)
		must(t, "EntriesRevision", err)
		if rev == last {
			t.Errorf("EntriesRevision unchanged (%d) after %s", rev, what)
		}
		last = rev
	}
	e, err := s.CreateEntry(ctx, fullEntry(t, s))
	must(t, "CreateEntry", err)
	step("create")
	e.Hint = "changed"
	_, err = s.UpdateEntry(ctx, e)
	must(t, "UpdateEntry", err)
	step("update")
	_, err = s.DeleteEntry(ctx, e.ID)
	must(t, "DeleteEntry", err)
	step("delete")
	// Non-entry writes need not touch it, and reads must not.
	rev, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	if rev != last {
		t.Errorf("EntriesRevision changed by a read: %d -> %d", last, rev)
	}
}

func testEntryCount(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	for i := range 4 {
		n, err := s.CountEntries(ctx)
		must(t, "CountEntries", err)
		if n != i {
			t.Fatalf("CountEntries = %d, want %d", n, i)
		}
		_, err = s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")})
		must(t, "CreateEntry", err)
	}
}

// testEntryConcurrentCreate checks that parallel writers all succeed: no
// store may surface lock contention (e.g. SQLITE_BUSY) to callers.
func testEntryConcurrentCreate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	const n = 20
	rev0, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	sels := sel(t, "unix:uid:1")
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.CreateEntry(ctx, &datastore.Entry{
				SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), ParentID: "spiffe://example.org/a",
				Selectors: sels, DNSNames: []string{"a", "b"},
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "concurrent CreateEntry", err)
	}
	got, err := s.CountEntries(ctx)
	must(t, "CountEntries", err)
	if got != n {
		t.Errorf("CountEntries = %d, want %d", got, n)
	}
	rev, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	if rev == rev0 {
		t.Errorf("EntriesRevision unchanged after %d creates", n)
	}
}
