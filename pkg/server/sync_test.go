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
