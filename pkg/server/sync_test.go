package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
)

func TestSyncAuthorizedEntries(t *testing.T) {
	const pageSize = 5
	tests := []struct {
		name    string
		entries int
		sparse  bool // expect revisions first
	}{
		{name: "none", entries: 0},
		{name: "few", entries: pageSize - 1},
		{name: "exactly page size", entries: pageSize, sparse: true},
		{name: "many", entries: 3*pageSize + 2, sparse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withPageSize(pageSize))
			agent := e.mustAttest("sync")
			var in []*types.Entry
			for i := range tt.entries {
				in = append(in, &types.Entry{SpiffeId: pid(fmt.Sprintf("/wl/%d", i)), ParentId: idOf(agent), Selectors: sels("unix:uid:1")})
			}
			var want []string
			if len(in) > 0 {
				for _, c := range e.createEntries(in...) {
					want = append(want, c.Id)
				}
			}
			slices.Sort(want)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := entryv1.NewEntryClient(e.tcpConn(agent)).SyncAuthorizedEntries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{OutputMask: &types.EntryMask{SpiffeId: true}}); err != nil {
				t.Fatal(err)
			}
			if !tt.sparse {
				resp, err := stream.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if resp.More || len(resp.EntryRevisions) != 0 {
					t.Fatalf("small set: unexpected response %v", resp)
				}
				if got := entryIDs(resp.Entries); !slices.Equal(got, want) {
					t.Fatalf("entries %v, want %v", got, want)
				}
				return
			}
			// Revisions arrive in pages with More set on all but the last.
			var revs []*entryv1.EntryRevision
			for {
				resp, err := stream.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Entries) != 0 || len(resp.EntryRevisions) > pageSize {
					t.Fatalf("bad revisions page %v", resp)
				}
				revs = append(revs, resp.EntryRevisions...)
				if !resp.More {
					break
				}
			}
			var revIDs []string
			for _, r := range revs {
				if r.RevisionNumber != 0 || r.CreatedAt == 0 {
					t.Fatalf("bad revision %v", r)
				}
				revIDs = append(revIDs, r.Id)
			}
			if slices.Sort(revIDs); !slices.Equal(revIDs, want) {
				t.Fatalf("revisions %v, want %v", revIDs, want)
			}
			// Ask for all but the first, plus an ID the agent may not see.
			ask := append(slices.Clone(want[1:]), "not-authorized")
			if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{Ids: ask}); err != nil {
				t.Fatal(err)
			}
			var got []*types.Entry
			for {
				resp, err := stream.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Entries) > pageSize {
					t.Fatalf("entries page of %d exceeds page size", len(resp.Entries))
				}
				got = append(got, resp.Entries...)
				if !resp.More {
					break
				}
			}
			if ids := entryIDs(got); !slices.Equal(ids, want[1:]) {
				t.Fatalf("entries %v, want %v", ids, want[1:])
			}
			for _, en := range got {
				if en.SpiffeId == nil || en.ParentId != nil {
					t.Fatalf("output mask not applied: %v", en)
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("stream end: %v", err)
			}
		})
	}
}

func entryIDs(entries []*types.Entry) []string {
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.Id)
	}
	slices.Sort(ids)
	return ids
}

// TestAuthorizedEntriesMasksAndUpdates polls repeatedly with different
// output masks, as agents do, and checks that the responses the server
// reuses between polls honour each mask and follow entry updates.
func TestAuthorizedEntriesMasksAndUpdates(t *testing.T) {
	e := newEnv(t)
	agent := e.mustAttest("masks")
	created := e.createEntries(
		&types.Entry{SpiffeId: pid("/wl/a"), ParentId: idOf(agent), Selectors: sels("unix:uid:1"), Hint: "a"},
		&types.Entry{SpiffeId: pid("/wl/b"), ParentId: idOf(agent), Selectors: sels("unix:uid:2"), Hint: "b"},
	)
	client := entryv1.NewEntryClient(e.tcpConn(agent))
	ctx := context.Background()
	poll := func(mask *types.EntryMask) map[string]*types.Entry {
		t.Helper()
		resp, err := client.GetAuthorizedEntries(ctx, &entryv1.GetAuthorizedEntriesRequest{OutputMask: mask})
		if err != nil {
			t.Fatal(err)
		}
		out := make(map[string]*types.Entry)
		for _, en := range resp.Entries {
			out[en.Id] = en
		}
		if len(out) != 2 {
			t.Fatalf("got %d entries, want 2", len(out))
		}
		return out
	}
	tests := []struct {
		name  string
		mask  *types.EntryMask
		check func(*types.Entry) bool
	}{
		{name: "no mask", check: func(en *types.Entry) bool { return en.SpiffeId != nil && en.Hint != "" && len(en.Selectors) == 1 }},
		{name: "hint only", mask: &types.EntryMask{Hint: true}, check: func(en *types.Entry) bool { return en.SpiffeId == nil && en.Hint != "" }},
		{name: "spiffe id only", mask: &types.EntryMask{SpiffeId: true}, check: func(en *types.Entry) bool { return en.SpiffeId != nil && en.Hint == "" }},
		{name: "empty mask", mask: &types.EntryMask{}, check: func(en *types.Entry) bool { return en.SpiffeId == nil && en.Hint == "" && en.Id != "" }},
	}
	for range 2 { // the second round is served from the reused responses
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for id, en := range poll(tt.mask) {
					if !tt.check(en) {
						t.Errorf("entry %s: %v", id, en)
					}
				}
			})
		}
	}
	resp, err := entryv1.NewEntryClient(e.admin).BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{
		Entries:   []*types.Entry{{Id: created[0].Id, Hint: "changed"}},
		InputMask: &types.EntryMask{Hint: true},
	})
	if err != nil || codes.Code(resp.Results[0].Status.Code) != codes.OK {
		t.Fatalf("update: %v %v", resp, err)
	}
	if got := poll(&types.EntryMask{Hint: true})[created[0].Id].Hint; got != "changed" {
		t.Errorf("hint after update = %q, want %q", got, "changed")
	}
}
