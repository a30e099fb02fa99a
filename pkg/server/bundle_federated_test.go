package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// resultCode returns the code of a batch result status.
func resultCode(s *types.Status) codes.Code { return codes.Code(s.GetCode()) }

func TestFederatedBundleCRUD(t *testing.T) {
	e := newEnv(t)
	client := bundlev1.NewBundleClient(e.admin)
	ctx := context.Background()
	a, b := e.foreignBundle("a.org"), e.foreignBundle("b.org")

	created, err := client.BatchCreateFederatedBundle(ctx, &bundlev1.BatchCreateFederatedBundleRequest{Bundle: []*types.Bundle{a, b, a}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []codes.Code{resultCode(created.Results[0].Status), resultCode(created.Results[1].Status), resultCode(created.Results[2].Status)}; !slices.Equal(got, []codes.Code{codes.OK, codes.OK, codes.AlreadyExists}) {
		t.Fatalf("create results %v, want OK, OK, AlreadyExists", got)
	}
	if !proto.Equal(created.Results[0].Bundle, a) {
		t.Errorf("created bundle %v, want %v", created.Results[0].Bundle, a)
	}

	got, err := client.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"})
	if err != nil || !proto.Equal(got, a) {
		t.Fatalf("GetFederatedBundle = %v, %v; want %v", got, err, a)
	}
	// SPIRE's CLI sends spiffe://<td>.
	got, err = client.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "spiffe://a.org", OutputMask: &types.BundleMask{RefreshHint: true}})
	if err != nil || got.RefreshHint != 300 || len(got.X509Authorities) != 0 {
		t.Fatalf("GetFederatedBundle with mask = %v, %v; want only the refresh hint", got, err)
	}
	_, err = client.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "c.org"})
	wantCode(t, err, codes.NotFound)

	// Paging: one bundle per page, in trust domain order.
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := client.ListFederatedBundles(ctx, &bundlev1.ListFederatedBundlesRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range resp.Bundles {
			names = append(names, b.TrustDomain)
		}
		if token = resp.NextPageToken; token == "" || pages > 3 {
			break
		}
	}
	if !slices.Equal(names, []string{"a.org", "b.org"}) {
		t.Errorf("paged list %v, want [a.org b.org]", names)
	}
	count, err := client.CountBundles(ctx, &bundlev1.CountBundlesRequest{})
	if err != nil || count.Count != 2 {
		t.Errorf("CountBundles = %v, %v; want 2", count, err)
	}

	// Update with an input mask changes only the masked fields.
	upd, err := client.BatchUpdateFederatedBundle(ctx, &bundlev1.BatchUpdateFederatedBundleRequest{
		Bundle:    []*types.Bundle{{TrustDomain: "a.org", RefreshHint: 60}, {TrustDomain: "c.org", RefreshHint: 60}},
		InputMask: &types.BundleMask{RefreshHint: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resultCode(upd.Results[0].Status) != codes.OK || resultCode(upd.Results[1].Status) != codes.NotFound {
		t.Fatalf("update results %v, want OK and NotFound", upd.Results)
	}
	want := proto.Clone(a).(*types.Bundle)
	want.RefreshHint = 60
	if got, err := client.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"}); err != nil || !proto.Equal(got, want) {
		t.Errorf("after masked update: %v, %v; want %v", got, err, want)
	}

	// Set replaces the whole bundle, and creates a missing one.
	c := e.foreignBundle("c.org")
	set, err := client.BatchSetFederatedBundle(ctx, &bundlev1.BatchSetFederatedBundleRequest{Bundle: []*types.Bundle{b, c}})
	if err != nil || resultCode(set.Results[0].Status) != codes.OK || resultCode(set.Results[1].Status) != codes.OK {
		t.Fatalf("BatchSetFederatedBundle = %v, %v", set, err)
	}

	del, err := client.BatchDeleteFederatedBundle(ctx, &bundlev1.BatchDeleteFederatedBundleRequest{TrustDomains: []string{"c.org", "c.org"}})
	if err != nil || resultCode(del.Results[0].Status) != codes.OK || resultCode(del.Results[1].Status) != codes.NotFound || del.Results[0].TrustDomain != "c.org" {
		t.Fatalf("BatchDeleteFederatedBundle = %v, %v; want OK then NotFound", del, err)
	}
}

// TestFederatedBundleOwnTrustDomain: the federated calls never read or
// write the server's own bundle, whatever form names it.
func TestFederatedBundleOwnTrustDomain(t *testing.T) {
	e := newEnv(t)
	client := bundlev1.NewBundleClient(e.admin)
	ctx := context.Background()
	own := e.foreignBundle(td.Name())
	for _, name := range []string{td.Name(), td.IDString()} {
		own.TrustDomain = name
		_, err := client.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: name})
		wantCode(t, err, codes.InvalidArgument)
		cr, err := client.BatchCreateFederatedBundle(ctx, &bundlev1.BatchCreateFederatedBundleRequest{Bundle: []*types.Bundle{own}})
		if err != nil || resultCode(cr.Results[0].Status) != codes.InvalidArgument {
			t.Errorf("create %q: %v, %v", name, cr, err)
		}
		st, err := client.BatchSetFederatedBundle(ctx, &bundlev1.BatchSetFederatedBundleRequest{Bundle: []*types.Bundle{own}})
		if err != nil || resultCode(st.Results[0].Status) != codes.InvalidArgument {
			t.Errorf("set %q: %v, %v", name, st, err)
		}
		up, err := client.BatchUpdateFederatedBundle(ctx, &bundlev1.BatchUpdateFederatedBundleRequest{Bundle: []*types.Bundle{own}})
		if err != nil || resultCode(up.Results[0].Status) != codes.InvalidArgument {
			t.Errorf("update %q: %v, %v", name, up, err)
		}
		del, err := client.BatchDeleteFederatedBundle(ctx, &bundlev1.BatchDeleteFederatedBundleRequest{TrustDomains: []string{name}})
		if err != nil || resultCode(del.Results[0].Status) != codes.InvalidArgument {
			t.Errorf("delete %q: %v, %v", name, del, err)
		}
	}
	if _, err := e.store.GetBundle(ctx, td.Name()); err == nil {
		t.Error("the own trust domain's bundle was stored through a federated call")
	}
}

func TestFederatedBundleInvalid(t *testing.T) {
	e := newEnv(t)
	client := bundlev1.NewBundleClient(e.admin)
	good := e.foreignBundle("a.org")
	edit := func(f func(b *types.Bundle)) *types.Bundle {
		b := proto.Clone(good).(*types.Bundle)
		f(b)
		return b
	}
	tests := []struct {
		name string
		b    *types.Bundle
		msg  string
	}{
		{"bad trust domain", edit(func(b *types.Bundle) { b.TrustDomain = "Not A TD" }), "trust domain argument is not valid"},
		{"garbage X.509 authority", edit(func(b *types.Bundle) { b.X509Authorities[0].Asn1 = []byte("junk") }), "x509_authorities[0]"},
		{"garbage JWT key", edit(func(b *types.Bundle) { b.JwtAuthorities[0].PublicKey = []byte("junk") }), "jwt_authorities[0]"},
		{"JWT key without ID", edit(func(b *types.Bundle) { b.JwtAuthorities[0].KeyId = "" }), "key_id is required"},
		{"negative refresh hint", edit(func(b *types.Bundle) { b.RefreshHint = -1 }), "refresh_hint"},
		{"no authorities", &types.Bundle{TrustDomain: "a.org"}, "no X.509 or JWT authorities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.BatchSetFederatedBundle(context.Background(), &bundlev1.BatchSetFederatedBundleRequest{Bundle: []*types.Bundle{tt.b}})
			if err != nil {
				t.Fatal(err)
			}
			st := resp.Results[0].Status
			if resultCode(st) != codes.InvalidArgument || !strings.Contains(st.Message, tt.msg) {
				t.Errorf("status %v, want InvalidArgument containing %q", st, tt.msg)
			}
		})
	}
	if _, err := client.GetFederatedBundle(context.Background(), &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"}); status.Code(err) != codes.NotFound {
		t.Errorf("an invalid bundle was stored: %v", err)
	}
	_, err := client.BatchDeleteFederatedBundle(context.Background(), &bundlev1.BatchDeleteFederatedBundleRequest{TrustDomains: []string{"a.org"}, Mode: 7})
	wantCode(t, err, codes.InvalidArgument)
}

// TestDeleteFederatedBundleModes: SPIRE's three modes, through the API:
// RESTRICT refuses while an entry federates with the trust domain,
// DISSOCIATE removes it from the entries, DELETE deletes them.
func TestDeleteFederatedBundleModes(t *testing.T) {
	e := newEnv(t)
	e.federate("a.org", "b.org")
	bundles := bundlev1.NewBundleClient(e.admin)
	entries := entryv1.NewEntryClient(e.admin)
	ctx := context.Background()
	es := e.createEntries(
		&types.Entry{SpiffeId: pid("/wl/a"), ParentId: pid("/agent"), Selectors: sels("unix:uid:1"), FederatesWith: []string{"a.org", "b.org"}},
		&types.Entry{SpiffeId: pid("/wl/b"), ParentId: pid("/agent"), Selectors: sels("unix:uid:2"), FederatesWith: []string{"b.org"}},
	)
	del := func(td string, mode bundlev1.BatchDeleteFederatedBundleRequest_Mode) *types.Status {
		t.Helper()
		resp, err := bundles.BatchDeleteFederatedBundle(ctx, &bundlev1.BatchDeleteFederatedBundleRequest{TrustDomains: []string{td}, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Results[0].Status
	}
	if st := del("a.org", bundlev1.BatchDeleteFederatedBundleRequest_RESTRICT); resultCode(st) != codes.FailedPrecondition {
		t.Fatalf("restrict delete: %v, want FailedPrecondition", st)
	}
	if st := del("a.org", bundlev1.BatchDeleteFederatedBundleRequest_DISSOCIATE); resultCode(st) != codes.OK {
		t.Fatalf("dissociate delete: %v", st)
	}
	got, err := entries.GetEntry(ctx, &entryv1.GetEntryRequest{Id: es[0].Id})
	if err != nil || !slices.Equal(got.FederatesWith, []string{"b.org"}) || got.RevisionNumber != 1 {
		t.Fatalf("entry after dissociate: %v, %v; want federating with b.org only, revision 1", got, err)
	}
	if st := del("b.org", bundlev1.BatchDeleteFederatedBundleRequest_DELETE); resultCode(st) != codes.OK {
		t.Fatalf("delete-mode delete: %v", st)
	}
	list, err := entries.ListEntries(ctx, &entryv1.ListEntriesRequest{})
	if err != nil || len(list.Entries) != 0 {
		t.Fatalf("entries after delete mode: %v, %v; want none", list, err)
	}
}

// TestEntryFederatesWithUnknownTrustDomain: as in SPIRE, an entry cannot
// federate with a trust domain whose bundle the server does not have.
func TestEntryFederatesWithUnknownTrustDomain(t *testing.T) {
	e := newEnv(t)
	client := entryv1.NewEntryClient(e.admin)
	ctx := context.Background()
	in := &types.Entry{SpiffeId: pid("/wl"), ParentId: pid("/agent"), Selectors: sels("unix:uid:1"), FederatesWith: []string{"spiffe://a.org"}}
	resp, err := client.BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{in}})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Results[0].Status; resultCode(st) != codes.InvalidArgument || !strings.Contains(st.Message, `"a.org"`) {
		t.Fatalf("create status %v, want InvalidArgument naming a.org", st)
	}
	e.federate("a.org")
	created := e.createEntries(in)[0]
	// Stored and returned by name, as SPIRE returns it.
	if !slices.Equal(created.FederatesWith, []string{"a.org"}) {
		t.Errorf("federates_with %v, want [a.org]", created.FederatesWith)
	}
	created.FederatesWith = []string{"b.org"}
	upd, err := client.BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{Entries: []*types.Entry{created}})
	if err != nil {
		t.Fatal(err)
	}
	if st := upd.Results[0].Status; resultCode(st) != codes.InvalidArgument || !strings.Contains(st.Message, `"b.org"`) {
		t.Fatalf("update status %v, want InvalidArgument naming b.org", st)
	}
	list, err := client.ListEntries(ctx, &entryv1.ListEntriesRequest{Filter: &entryv1.ListEntriesRequest_Filter{
		ByFederatesWith: &types.FederatesWithMatch{TrustDomains: []string{"spiffe://a.org"}, Match: types.FederatesWithMatch_MATCH_EXACT},
	}})
	if err != nil || len(list.Entries) != 1 {
		t.Fatalf("filter by spiffe://a.org: %v, %v; want the entry", list, err)
	}
}

// TestGetFederatedBundleAgent: an agent may read the bundles of the trust
// domains its authorized entries federate with, and no other; the write
// calls stay on the admin socket.
func TestGetFederatedBundleAgent(t *testing.T) {
	e := newEnv(t)
	e.federate("a.org", "b.org")
	svid := e.mustAttest("fed-token")
	e.createEntries(&types.Entry{SpiffeId: pid("/wl"), ParentId: idOf(svid), Selectors: sels("unix:uid:1"), FederatesWith: []string{"a.org"}})
	agent := bundlev1.NewBundleClient(e.tcpConn(svid))
	ctx := context.Background()

	if b, err := agent.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"}); err != nil || b.TrustDomain != "a.org" {
		t.Fatalf("agent GetFederatedBundle(a.org) = %v, %v", b, err)
	}
	_, err := agent.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "b.org"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = bundlev1.NewBundleClient(e.tcpConn(nil)).GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"})
	wantCode(t, err, codes.Unauthenticated)
	_, err = agent.BatchSetFederatedBundle(ctx, &bundlev1.BatchSetFederatedBundleRequest{Bundle: []*types.Bundle{e.foreignBundle("c.org")}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = agent.ListFederatedBundles(ctx, &bundlev1.ListFederatedBundlesRequest{})
	wantCode(t, err, codes.PermissionDenied)
	// The admin socket reads any.
	if _, err := bundlev1.NewBundleClient(e.admin).GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "b.org"}); err != nil {
		t.Fatalf("admin GetFederatedBundle(b.org): %v", err)
	}
}
