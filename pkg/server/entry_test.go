package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestEntryCRUD(t *testing.T) {
	e := newEnv(t)
	e.federate("other.org") // entries federate only with stored bundles
	client := entryv1.NewEntryClient(e.admin)
	ctx := context.Background()
	created := e.createEntries(
		&types.Entry{SpiffeId: pid("/wl/1"), ParentId: pid("/agent/1"), Selectors: sels("unix:uid:1", "unix:gid:1"), Hint: "internal", X509SvidTtl: 60},
		&types.Entry{SpiffeId: pid("/wl/2"), ParentId: pid("/agent/1"), Selectors: sels("unix:uid:2"), Downstream: true, FederatesWith: []string{"other.org"}},
		&types.Entry{SpiffeId: pid("/wl/3"), ParentId: pid("/agent/2"), Selectors: sels("unix:uid:1")},
	)
	if created[0].Id == "" || created[0].CreatedAt == 0 {
		t.Fatalf("created entry lacks ID or created_at: %v", created[0])
	}

	// Duplicate create reports AlreadyExists with the existing entry.
	dup, err := client.BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{
		{SpiffeId: pid("/wl/1"), ParentId: pid("/agent/1"), Selectors: sels("unix:gid:1", "unix:uid:1")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if codes.Code(dup.Results[0].Status.Code) != codes.AlreadyExists || dup.Results[0].Entry.GetId() != created[0].Id {
		t.Fatalf("duplicate create: %v", dup.Results[0])
	}

	got, err := client.GetEntry(ctx, &entryv1.GetEntryRequest{Id: created[0].Id})
	if err != nil || got.Hint != "internal" || got.X509SvidTtl != 60 {
		t.Fatalf("GetEntry = %v, %v", got, err)
	}
	_, err = client.GetEntry(ctx, &entryv1.GetEntryRequest{Id: "missing"})
	wantCode(t, err, codes.NotFound)

	filters := []struct {
		name   string
		filter *entryv1.ListEntriesRequest_Filter
		want   []string
	}{
		{"none", nil, []string{"/wl/1", "/wl/2", "/wl/3"}},
		{"by_spiffe_id", &entryv1.ListEntriesRequest_Filter{BySpiffeId: pid("/wl/2")}, []string{"/wl/2"}},
		{"by_parent_id", &entryv1.ListEntriesRequest_Filter{ByParentId: pid("/agent/1")}, []string{"/wl/1", "/wl/2"}},
		{"by_selectors exact", &entryv1.ListEntriesRequest_Filter{BySelectors: &types.SelectorMatch{Selectors: sels("unix:uid:1"), Match: types.SelectorMatch_MATCH_EXACT}}, []string{"/wl/3"}},
		{"by_selectors superset", &entryv1.ListEntriesRequest_Filter{BySelectors: &types.SelectorMatch{Selectors: sels("unix:uid:1"), Match: types.SelectorMatch_MATCH_SUPERSET}}, []string{"/wl/1", "/wl/3"}},
		{"by_selectors any", &entryv1.ListEntriesRequest_Filter{BySelectors: &types.SelectorMatch{Selectors: sels("unix:uid:2", "unix:gid:1"), Match: types.SelectorMatch_MATCH_ANY}}, []string{"/wl/1", "/wl/2"}},
		{"by_hint", &entryv1.ListEntriesRequest_Filter{ByHint: wrapperspb.String("internal")}, []string{"/wl/1"}},
		{"by_downstream", &entryv1.ListEntriesRequest_Filter{ByDownstream: wrapperspb.Bool(true)}, []string{"/wl/2"}},
		{"by_federates_with", &entryv1.ListEntriesRequest_Filter{ByFederatesWith: &types.FederatesWithMatch{TrustDomains: []string{"other.org"}, Match: types.FederatesWithMatch_MATCH_ANY}}, []string{"/wl/2"}},
		{"by_federates_with subset", &entryv1.ListEntriesRequest_Filter{ByFederatesWith: &types.FederatesWithMatch{TrustDomains: []string{"other.org", "third.org"}, Match: types.FederatesWithMatch_MATCH_SUBSET}}, []string{"/wl/2"}},
		{"by_federates_with superset", &entryv1.ListEntriesRequest_Filter{ByFederatesWith: &types.FederatesWithMatch{TrustDomains: []string{"other.org"}, Match: types.FederatesWithMatch_MATCH_SUPERSET}}, []string{"/wl/2"}},
		{"by_federates_with exact, none", &entryv1.ListEntriesRequest_Filter{ByFederatesWith: &types.FederatesWithMatch{TrustDomains: []string{"other.org", "third.org"}, Match: types.FederatesWithMatch_MATCH_EXACT}}, nil},
	}
	for _, tt := range filters {
		t.Run("list/"+tt.name, func(t *testing.T) {
			resp, err := client.ListEntries(ctx, &entryv1.ListEntriesRequest{Filter: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, e := range resp.Entries {
				paths = append(paths, e.SpiffeId.Path)
			}
			slices.Sort(paths)
			if !slices.Equal(paths, tt.want) {
				t.Fatalf("got %v, want %v", paths, tt.want)
			}
			cnt, err := client.CountEntries(ctx, &entryv1.CountEntriesRequest{Filter: countFilter(tt.filter)})
			if err != nil || int(cnt.Count) != len(tt.want) {
				t.Fatalf("CountEntries = %v, %v; want %d", cnt, err, len(tt.want))
			}
		})
	}

	t.Run("pagination", func(t *testing.T) {
		var ids []string
		token := ""
		pages := 0
		for {
			resp, err := client.ListEntries(ctx, &entryv1.ListEntriesRequest{PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range resp.Entries {
				ids = append(ids, e.Id)
			}
			if token = resp.NextPageToken; token == "" {
				break
			}
		}
		if len(ids) != 3 || pages != 2 {
			t.Fatalf("paged %d pages, ids %v", pages, ids)
		}
	})

	t.Run("update with mask", func(t *testing.T) {
		resp, err := client.BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{
			Entries:    []*types.Entry{{Id: created[0].Id, Hint: "external", X509SvidTtl: 999}},
			InputMask:  &types.EntryMask{Hint: true},
			OutputMask: &types.EntryMask{Hint: true, RevisionNumber: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := resp.Results[0]
		if codes.Code(r.Status.Code) != codes.OK {
			t.Fatalf("update: %s", r.Status.Message)
		}
		if r.Entry.Hint != "external" || r.Entry.RevisionNumber != created[0].RevisionNumber+1 || r.Entry.SpiffeId != nil {
			t.Fatalf("masked output %v", r.Entry)
		}
		got, err := client.GetEntry(ctx, &entryv1.GetEntryRequest{Id: created[0].Id})
		if err != nil || got.X509SvidTtl != 60 || got.Hint != "external" || len(got.Selectors) != 2 {
			t.Fatalf("after update: %v, %v", got, err)
		}
		// Full update (no mask) and a bad update.
		resp, err = client.BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{Entries: []*types.Entry{
			{Id: created[2].Id, SpiffeId: pid("/wl/3b"), ParentId: pid("/agent/2"), Selectors: sels("unix:uid:9")},
			{Id: created[2].Id, SpiffeId: pid("/wl/3b"), ParentId: pid("/agent/2")},
			{Id: "missing", SpiffeId: pid("/x"), ParentId: pid("/y"), Selectors: sels("a:b")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []codes.Code{codes.OK, codes.InvalidArgument, codes.NotFound} {
			if got := codes.Code(resp.Results[i].Status.Code); got != want {
				t.Errorf("update %d: %v (%s), want %v", i, got, resp.Results[i].Status.Message, want)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		resp, err := client.BatchDeleteEntry(ctx, &entryv1.BatchDeleteEntryRequest{Ids: []string{created[1].Id, created[1].Id, ""}})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []codes.Code{codes.OK, codes.NotFound, codes.InvalidArgument} {
			if got := codes.Code(resp.Results[i].Status.Code); got != want {
				t.Errorf("delete %d: %v, want %v", i, got, want)
			}
		}
		cnt, err := client.CountEntries(ctx, &entryv1.CountEntriesRequest{})
		if err != nil || cnt.Count != 2 {
			t.Fatalf("CountEntries after delete = %v, %v", cnt, err)
		}
	})
}

func countFilter(f *entryv1.ListEntriesRequest_Filter) *entryv1.CountEntriesRequest_Filter {
	if f == nil {
		return nil
	}
	return &entryv1.CountEntriesRequest_Filter{
		BySpiffeId: f.BySpiffeId, ByParentId: f.ByParentId, BySelectors: f.BySelectors,
		ByFederatesWith: f.ByFederatesWith, ByHint: f.ByHint, ByDownstream: f.ByDownstream,
	}
}

func TestEntryValidation(t *testing.T) {
	e := newEnv(t)
	good := func(mod func(*types.Entry)) *types.Entry {
		en := &types.Entry{SpiffeId: pid("/wl"), ParentId: pid("/agent"), Selectors: sels("unix:uid:1")}
		mod(en)
		return en
	}
	tests := []struct {
		name  string
		entry *types.Entry
		field string
	}{
		{"nil entry", nil, "entry"},
		{"missing spiffe_id", good(func(e *types.Entry) { e.SpiffeId = nil }), "spiffe_id"},
		{"bad spiffe_id path", good(func(e *types.Entry) { e.SpiffeId = pid("no-slash") }), "spiffe_id"},
		{"spiffe_id bad chars", good(func(e *types.Entry) { e.SpiffeId = pid("/a b") }), "spiffe_id"},
		{"spiffe_id foreign td", good(func(e *types.Entry) { e.SpiffeId = &types.SPIFFEID{TrustDomain: "other.org", Path: "/wl"} }), "spiffe_id"},
		{"spiffe_id bad td", good(func(e *types.Entry) { e.SpiffeId = &types.SPIFFEID{TrustDomain: "Bad TD", Path: "/wl"} }), "spiffe_id"},
		{"spiffe_id no path", good(func(e *types.Entry) { e.SpiffeId = pid("") }), "spiffe_id"},
		{"missing parent_id", good(func(e *types.Entry) { e.ParentId = nil }), "parent_id"},
		{"bad parent_id", good(func(e *types.Entry) { e.ParentId = pid("/x/../y") }), "parent_id"},
		{"no selectors", good(func(e *types.Entry) { e.Selectors = nil }), "selectors"},
		{"selector without value", good(func(e *types.Entry) { e.Selectors = []*types.Selector{{Type: "unix"}} }), "selectors[0]"},
		{"selector without type", good(func(e *types.Entry) { e.Selectors = []*types.Selector{{Value: "uid:1"}} }), "selectors[0]"},
		{"negative x509 ttl", good(func(e *types.Entry) { e.X509SvidTtl = -1 }), "x509_svid_ttl"},
		{"negative jwt ttl", good(func(e *types.Entry) { e.JwtSvidTtl = -1 }), "jwt_svid_ttl"},
		{"bad dns name", good(func(e *types.Entry) { e.DnsNames = []string{"ok.example", "bad_name!"} }), "dns_names[1]"},
		{"bad federated td", good(func(e *types.Entry) { e.FederatesWith = []string{"NOT A TD"} }), "federates_with[0]"},
	}
	entries := make([]*types.Entry, len(tests))
	for i, tt := range tests {
		entries[i] = tt.entry
	}
	resp, err := entryv1.NewEntryClient(e.admin).BatchCreateEntry(context.Background(), &entryv1.BatchCreateEntryRequest{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resp.Results[i]
			if codes.Code(r.Status.Code) != codes.InvalidArgument {
				t.Fatalf("code %v (%s), want InvalidArgument", codes.Code(r.Status.Code), r.Status.Message)
			}
			if !strings.Contains(r.Status.Message, tt.field) {
				t.Fatalf("message %q does not name %q", r.Status.Message, tt.field)
			}
			if r.Entry != nil {
				t.Fatal("failed result carries an entry")
			}
		})
	}
	cnt, err := entryv1.NewEntryClient(e.admin).CountEntries(context.Background(), &entryv1.CountEntriesRequest{})
	if err != nil || cnt.Count != 0 {
		t.Fatalf("invalid entries were stored: %v, %v", cnt, err)
	}
}

func TestEntryCustomID(t *testing.T) {
	e := newEnv(t)
	resp, err := entryv1.NewEntryClient(e.admin).BatchCreateEntry(context.Background(), &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{
		{Id: "my-entry", SpiffeId: pid("/a"), ParentId: pid("/p"), Selectors: sels("a:b")},
		{Id: "bad id", SpiffeId: pid("/b"), ParentId: pid("/p"), Selectors: sels("a:b")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.Results[0]; codes.Code(r.Status.Code) != codes.OK || r.Entry.Id != "my-entry" {
		t.Fatalf("custom ID: %v", r)
	}
	if r := resp.Results[1]; codes.Code(r.Status.Code) != codes.InvalidArgument || !strings.Contains(r.Status.Message, "id:") {
		t.Fatalf("bad custom ID: %v", r)
	}
}
