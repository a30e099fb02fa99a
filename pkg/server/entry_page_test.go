package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// largeEntries are the entries of maximum size (datastore.MaxEntrySelectors
// selectors of datastore.MaxSelectorLength bytes, about 260 KB each) that
// together are well over gRPC's default 4 MiB message limit.
const largeEntries = 20

// maxSizeSelectors returns datastore.MaxEntrySelectors selectors of the
// largest size allowed, distinct per tag.
func maxSizeSelectors(tag string) []*types.Selector {
	out := make([]*types.Selector, datastore.MaxEntrySelectors)
	for i := range out {
		prefix := fmt.Sprintf("%s-%d-", tag, i)
		out[i] = &types.Selector{Type: "k8s", Value: prefix + strings.Repeat("v", datastore.MaxSelectorLength-len("k8s:")-len(prefix))}
	}
	return out
}

// createLargeEntries creates n maximum-size entries under parent, one per
// call (each request is well within the server's message limit).
func (e *env) createLargeEntries(parent *types.SPIFFEID, n int) {
	e.t.Helper()
	for i := range n {
		e.createEntries(&types.Entry{SpiffeId: pid(fmt.Sprintf("/large/%d", i)), ParentId: parent, Selectors: maxSizeSelectors(fmt.Sprint(i))})
	}
}

// syncLikeSPIRE runs SyncAuthorizedEntries as a SPIRE agent does (no
// svidkit metadata): one initial request; a first response without
// revisions is the whole set; otherwise it collects the revision pages and
// asks for every entry in batches of the first page's length. The client
// keeps gRPC's default 4 MiB receive limit.
func syncLikeSPIRE(t *testing.T, client entryv1.EntryClient) ([]*types.Entry, error) {
	t.Helper()
	stream, err := client.SyncAuthorizedEntries(context.Background())
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if len(resp.EntryRevisions) == 0 {
		return resp.Entries, nil
	}
	revs := resp.EntryRevisions
	pageSize := len(revs)
	for resp.More {
		if resp, err = stream.Recv(); err != nil {
			return nil, err
		}
		revs = append(revs, resp.EntryRevisions...)
	}
	var entries []*types.Entry
	for start := 0; start < len(revs); start += pageSize {
		var ids []string
		for _, r := range revs[start:min(start+pageSize, len(revs))] {
			ids = append(ids, r.Id)
		}
		if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{Ids: ids}); err != nil {
			return nil, err
		}
		for {
			if resp, err = stream.Recv(); err != nil {
				return nil, err
			}
			entries = append(entries, resp.Entries...)
			if !resp.More {
				break
			}
		}
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("end of sync: %v", err)
	}
	return entries, nil
}

// TestLargeEntrySetSyncs reproduces issue 10 finding 6 on the protocol
// level: an agent authorized for entries that together exceed 4 MiB must
// receive all of them, a SPIRE agent included. Before the fix the server
// sent them in one message and the agent failed with "received message
// larger than max" on every sync.
func TestLargeEntrySetSyncs(t *testing.T) {
	e := newEnv(t)
	agent := e.mustAttest("large")
	e.createLargeEntries(idOf(agent), largeEntries)
	entries, err := syncLikeSPIRE(t, entryv1.NewEntryClient(e.tcpConn(agent)))
	if err != nil {
		t.Fatalf("sync of %d maximum-size entries: %v", largeEntries, err)
	}
	if len(entries) != largeEntries {
		t.Fatalf("synced %d entries, want %d", len(entries), largeEntries)
	}
}

// TestLargeEntryListPages: ListEntries without a page size, as `entry
// show` calls it, cuts pages at the byte limit and the caller gets every
// entry by following next_page_token. Before the fix the one response was
// larger than the client accepts.
func TestLargeEntryListPages(t *testing.T) {
	e := newEnv(t)
	e.createLargeEntries(pid("/node"), largeEntries)
	client := entryv1.NewEntryClient(e.admin)
	req := &entryv1.ListEntriesRequest{}
	got := 0
	for {
		resp, err := client.ListEntries(context.Background(), req)
		if err != nil {
			t.Fatalf("ListEntries after %d entries: %v", got, err)
		}
		got += len(resp.Entries)
		if resp.NextPageToken == "" {
			break
		}
		req.PageToken = resp.NextPageToken
	}
	if got != largeEntries {
		t.Fatalf("listed %d entries, want %d", got, largeEntries)
	}
}

// TestEntrySizeLimits: an entry over a size limit is refused with
// InvalidArgument naming the field and the limit, on create and update.
// Before the fix 11,000 selectors failed with Internal "too many SQL
// variables", and 10,900 were accepted and broke every agent's sync.
func TestEntrySizeLimits(t *testing.T) {
	e := newEnv(t)
	stored := e.createEntries(&types.Entry{SpiffeId: pid("/limits"), ParentId: pid("/node"), Selectors: sels("unix:uid:1")})[0]
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name  string
		entry *types.Entry
		want  string
	}{
		{"selectors", &types.Entry{Selectors: sels(many(datastore.MaxEntrySelectors+1, func(i int) string { return fmt.Sprintf("unix:uid:%d", i) })...)},
			fmt.Sprintf("selectors: %d selectors, more than the limit of %d", datastore.MaxEntrySelectors+1, datastore.MaxEntrySelectors)},
		{"11,000 selectors", &types.Entry{Selectors: sels(many(11_000, func(i int) string { return fmt.Sprintf("unix:uid:%d", i) })...)},
			fmt.Sprintf("more than the limit of %d", datastore.MaxEntrySelectors)},
		{"selector length", &types.Entry{Selectors: sels("k8s:" + strings.Repeat("v", datastore.MaxSelectorLength))},
			fmt.Sprintf("longer than the limit of %d bytes", datastore.MaxSelectorLength)},
		{"dns names", &types.Entry{Selectors: sels("unix:uid:1"), DnsNames: many(datastore.MaxEntryDNSNames+1, func(i int) string { return fmt.Sprintf("n%d.example.org", i) })},
			fmt.Sprintf("dns_names: %d DNS names, more than the limit of %d", datastore.MaxEntryDNSNames+1, datastore.MaxEntryDNSNames)},
		{"federates_with", &types.Entry{Selectors: sels("unix:uid:1"), FederatesWith: many(datastore.MaxEntryFederatesWith+1, func(i int) string { return fmt.Sprintf("td%d.example", i) })},
			fmt.Sprintf("more than the limit of %d", datastore.MaxEntryFederatesWith)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.entry.SpiffeId, tt.entry.ParentId = pid("/limits-new"), pid("/node")
			resp, err := entryv1.NewEntryClient(e.admin).BatchCreateEntry(context.Background(),
				&entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{tt.entry}})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, resp.Results[0].Status, codes.InvalidArgument, tt.want)
			tt.entry.Id, tt.entry.SpiffeId = stored.Id, stored.SpiffeId
			upd, err := entryv1.NewEntryClient(e.admin).BatchUpdateEntry(context.Background(),
				&entryv1.BatchUpdateEntryRequest{Entries: []*types.Entry{tt.entry}})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, upd.Results[0].Status, codes.InvalidArgument, tt.want)
		})
	}
}

// wantStatus fails unless an API result status has code and a message
// containing msg.
func wantStatus(t *testing.T, st *types.Status, code codes.Code, msg string) {
	t.Helper()
	if codes.Code(st.GetCode()) != code || !strings.Contains(st.GetMessage(), msg) {
		t.Fatalf("status %v, want %v with %q", status.Error(codes.Code(st.GetCode()), st.GetMessage()), code, msg)
	}
}
